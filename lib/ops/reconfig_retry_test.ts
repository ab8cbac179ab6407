import assert from "node:assert/strict";
import { reconfigAgain } from "./reconfig_retry.ts";

const never = () => Promise.reject(new Error("not asked"));

Deno.test("a failed replSetReconfig is asked again after an election, a lost connection, the server's own reconfig or an uncommitted config; a 103 only when the version moved", async () => {
  for (const code of [10107, 189, 11602, 109, 308, 74, undefined]) {
    assert.equal(await reconfigAgain(code, 5, never), true, String(code));
  }
  // The server refusing the config itself: no retry.
  for (const code of [93, 13, 2]) assert.equal(await reconfigAgain(code, 5, never), false);
  // 103: another reconfig took version 6 meanwhile (the server's newlyAdded removal) → again;
  // the version is still 5 → the server refuses this config (e.g. two voters at once).
  assert.equal(await reconfigAgain(103, 5, () => Promise.resolve(6)), true);
  assert.equal(await reconfigAgain(103, 5, () => Promise.resolve(5)), false);
  assert.equal(await reconfigAgain(103, 5, () => Promise.resolve(undefined)), false);
  assert.equal(await reconfigAgain(103, 5, () => Promise.resolve(NaN)), false);
  assert.equal(await reconfigAgain(103, 5, never), false);
});
