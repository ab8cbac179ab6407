import assert from "node:assert/strict";
import * as path from "node:path";
import { MupError } from "../errors.ts";
import { loadManifest } from "./manifest.ts";

Deno.test("loadManifest: a mirror without full.json, or with one that is not JSON, is a MupError that says so plainly and names --mirror (no Deno OS error text; tester109 #7)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mup-manifest-" });
  try {
    const missing = path.join(dir, "nonexistent");
    const gone = await loadManifest({ mirror: missing }).then(() => undefined, (e) => e);
    assert.ok(gone instanceof MupError, String(gone));
    assert.equal(
      gone.message,
      `cannot read the version manifest ${path.join(missing, "full.json")}: no such file`,
    );
    assert.match(gone.options.hint ?? "", /^check --mirror .*nonexistent: a mirror holds/);
    await Deno.writeTextFile(path.join(dir, "full.json"), "<html>not json</html>");
    const garbled = await loadManifest({ mirror: dir }).then(() => undefined, (e) => e);
    assert.ok(garbled instanceof MupError, String(garbled));
    assert.match(garbled.message, /^version manifest \S+full\.json is not JSON: /);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
