/**
 * The review says what the download step will do: with the release archive in the download
 * cache (pre-flight verified its sha256), a repair or a deploy uses it and downloads nothing, and
 * the review says so; without it, the review says it downloads it.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import {
  deployArgs,
  killAll,
  mup,
  output,
  standaloneTopology,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { ok, stablePorts } from "./lifecycle_helpers.ts";
import { waitFor } from "./sim_helpers.ts";
import { pidAlive } from "../lib/executor/local.ts";
import { allOperations, type Plan } from "../lib/plan/schema.ts";
import { esc } from "./resealed.ts";
import { installFixture } from "./fixture.ts";

installFixture();

Deno.test("review: a repair, and a deploy, whose archive is in the download cache say they use it and download nothing; without it they say they download it", async () => {
  const home = await tempHome();
  const [a, b] = stablePorts(2);
  try {
    const mirror = await testMirror();
    const topoA = await writeTopology(home, "a.yaml", standaloneTopology([a]));
    const topoB = await writeTopology(home, "b.yaml", standaloneTopology([b]));
    await ok(home, deployArgs("a", topoA, mirror, ["--auto-approve"], "7.0.14"));
    // A dead server makes the next deploy of `a` a repair that starts it.
    const pidFile = path.join(
      home,
      "storage",
      "clusters",
      "a",
      "deploy",
      `mongod-${a}`,
      "mongod.pid",
    );
    const pid = Number((await Deno.readTextFile(pidFile)).trim());
    Deno.kill(pid, "SIGKILL");
    await waitFor(() => Promise.resolve(!pidAlive(pid)), 30_000);
    const plan = async (cluster: string, topo: string) => {
      const text = await mup(deployArgs(cluster, topo, mirror, ["--plan-only"], "7.0.14"), {
        home,
      });
      assert.equal(text.code, 0, output(text));
      const json = await mup(
        deployArgs(cluster, topo, mirror, ["--plan-only", "--json"], "7.0.14"),
        { home },
      );
      assert.equal(json.code, 0, output(json));
      const p = JSON.parse(json.stdout).plan as Plan;
      return {
        text: text.stdout,
        download: allOperations(p).find((o) => o.type === "download_binary")!,
      };
    };
    const cache = path.join(home, "cache");
    for (const [cluster, topo] of [["a", topoA], ["b", topoB]]) {
      const { text, download } = await plan(cluster, topo);
      const { archive, sha256, extract_dir } = download.target.params;
      assert.ok(archive.startsWith(cache + path.sep), archive);
      assert.doesNotMatch(text, /Downloads /, `${cluster}: ${text}`);
      assert.match(
        text,
        new RegExp(
          `Uses the cached ${esc(archive)} \\(sha256 ${sha256}, verified; no download\\), ` +
            `unpacked into ${esc(extract_dir)}`,
        ),
        `${cluster}: ${text}`,
      );
      assert.deepEqual(download.changes.map((c) => c.action), ["none"]);
    }
    // The repair applied uses the cache, as its review said.
    const repaired = await ok(home, deployArgs("a", topoA, mirror, ["--auto-approve"], "7.0.14"));
    assert.match(repaired.stdout, /already downloaded \(in the local cache\)/, output(repaired));
    Deno.kill(Number((await Deno.readTextFile(pidFile)).trim()), "SIGKILL");
    // Without the archive in the cache, both download it, and their reviews say so.
    for await (const e of Deno.readDir(cache)) {
      if (e.isFile && e.name.endsWith(".tgz")) await Deno.remove(path.join(cache, e.name));
    }
    for (const [cluster, topo] of [["a", topoA], ["b", topoB]]) {
      const { text, download } = await plan(cluster, topo);
      const { url, sha256 } = download.target.params;
      assert.match(text, new RegExp(`Downloads ${esc(url)} \\(sha256 ${sha256}\\) into `), text);
      assert.doesNotMatch(text, /Uses the cached/, `${cluster}: ${text}`);
      assert.deepEqual(download.changes.map((c) => c.action), ["create"]);
    }
  } finally {
    await killAll(home);
  }
});
