import assert from "node:assert/strict";
import { releaseBefore } from "./release.ts";

Deno.test("releaseBefore: by number, not text; Percona's build suffix ignored; no version is not before", () => {
  assert.equal(releaseBefore("5.0.9", "5.3"), true);
  assert.equal(releaseBefore("5.3.0", "5.3"), false);
  assert.equal(releaseBefore("5.10.1", "5.3"), false);
  assert.equal(releaseBefore("4.4", "5.1"), true);
  assert.equal(releaseBefore("7.0.14-8", "5.1"), false);
  assert.equal(releaseBefore(undefined, "5.3"), false);
});
