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
    assert.match(
      gone.options.hint ?? "",
      /^check the mirror .*nonexistent \(--mirror, else \$MUP_MIRROR, else the one recorded with the cluster\): a mirror holds/,
    );
    await Deno.writeTextFile(path.join(dir, "full.json"), "<html>not json</html>");
    const garbled = await loadManifest({ mirror: dir }).then(() => undefined, (e) => e);
    assert.ok(garbled instanceof MupError, String(garbled));
    assert.match(garbled.message, /^version manifest \S+full\.json is not JSON: /);
    // A file given as the mirror, JSON of another shape, a server that refuses: each said plainly.
    const file = path.join(dir, "full.json");
    const notDir = await loadManifest({ mirror: file }).then(() => undefined, (e) => e);
    assert.equal(
      notDir?.message,
      `cannot read the version manifest ${path.join(file, "full.json")}: a part of its path is a ` +
        "file, not a directory",
    );
    await Deno.writeTextFile(file, "null");
    const shape = await loadManifest({ mirror: dir }).then(() => undefined, (e) => e);
    assert.match(shape?.message ?? "", /is not in the download center's format/);
    assert.equal(
      shape?.options.hint,
      `check the mirror ${dir} (--mirror, else $MUP_MIRROR, else the one recorded with the cluster)`,
    );
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    const refused = await loadManifest({ mirror: `http://127.0.0.1:${port}` }).then(
      () => undefined,
      (e) => e,
    );
    assert.match(refused?.message ?? "", /: fetch failed: .*[Cc]onnection refused/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
