/**
 * The release unpacked in $MUP_HOME/cache is checked before each use against the checksums taken
 * when it was unpacked from the verified archive: a binary changed there since is not installed
 * (nor recorded as the verified download's); the release is unpacked again from the archive.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { parse } from "yaml";
import {
  deployArgs,
  killAll,
  standaloneTopology,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { ok, stablePorts } from "./lifecycle_helpers.ts";
import { installFixture } from "./fixture.ts";
import { sha256File } from "../lib/util/file_hash.ts";

installFixture();

Deno.test("a binary changed in the download cache is not installed: the next deploy unpacks the release again from the verified archive", async () => {
  const home = await tempHome();
  const [a, b] = stablePorts(2);
  try {
    const mirror = await testMirror();
    const first = await writeTopology(home, "a.yaml", standaloneTopology([a]));
    await ok(home, deployArgs("a", first, mirror, ["--auto-approve"], "7.0.14"));
    const meta = (name: string) =>
      Deno.readTextFile(path.join(home, "storage", "clusters", name, "meta.yaml")).then(parse);
    const [installed] = (await meta("a")).binaries as { sha256: string }[];
    const cache = path.join(home, "cache");
    const release = (await Array.fromAsync(Deno.readDir(cache)))
      .find((e) => e.isDirectory && e.name.startsWith("mongo-7.0.14"))!.name;
    const cached = path.join(cache, release, "bin", "mongod");
    assert.equal(await sha256File(cached), installed.sha256);
    const marker = await Deno.readTextFile(path.join(cache, release, ".mup-complete"));
    assert.match(marker, new RegExp(`^${installed.sha256} {2}bin/mongod$`, "m"));

    await Deno.writeTextFile(cached, "\necho changed >> /dev/null\n", { append: true });
    const second = await writeTopology(home, "b.yaml", standaloneTopology([b]));
    await ok(home, deployArgs("b", second, mirror, ["--auto-approve"], "7.0.14"));
    const [again] = (await meta("b")).binaries as { path: string; sha256: string }[];
    assert.equal(again.sha256, installed.sha256, "recorded as the release's, not the changed one");
    assert.equal(await sha256File(again.path), installed.sha256, "the release's was installed");
    assert.equal(await sha256File(cached), installed.sha256, "the cache was unpacked again");
  } finally {
    await killAll(home);
  }
});
