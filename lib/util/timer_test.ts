import assert from "node:assert/strict";
import { sustained } from "./timer.ts";

Deno.test("sustained() holds only for a value seen unchanged for its time; another value or none starts again", () => {
  const now = sustained(0);
  assert.equal(now("a"), false, "first sight starts the count");
  assert.equal(now("a"), true);
  assert.equal(now("b"), false, "another value starts again");
  assert.equal(now("b"), true);
  assert.equal(now(undefined), false);
  assert.equal(now(undefined), false, "no value never holds");
  assert.equal(now("b"), false, "after a gap, the count starts again");
  const long = sustained(60_000);
  long("a");
  assert.equal(long("a"), false, "not yet held for a minute");
});
