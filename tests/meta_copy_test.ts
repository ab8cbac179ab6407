/**
 * mup keeps a copy of each cluster's metadata beside its apply states (state/meta.copy.yaml):
 * a meta.yaml that is deleted or damaged is never read as "not deployed" or "rolled back"; every
 * command that needs it refuses, naming the file and the `cp` that restores it from the copy,
 * and once restored the cluster is managed as before. A destroy removes both.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { killAll, mup, output, standaloneTopology, tempHome } from "./helpers.ts";
import { clusterDir } from "./apply_helpers.ts";
import { deploy, display, ok, stablePorts } from "./lifecycle_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

Deno.test("a deleted or damaged meta.yaml: list says so, commands refuse naming the copy to restore; restored, the cluster is managed as before; destroy removes both", async () => {
  const home = await tempHome();
  const [port] = stablePorts(1);
  try {
    await deploy(home, "mc", standaloneTopology([port]));
    const meta = path.join(clusterDir(home, "mc"), "meta.yaml");
    const copy = path.join(clusterDir(home, "mc"), "state", "meta.copy.yaml");
    assert.equal(await Deno.readTextFile(copy), await Deno.readTextFile(meta));
    const original = await Deno.readTextFile(meta);

    const status = {
      delete: "metadata missing",
      truncate: "damaged metadata",
      edit: "metadata edited",
    };
    for (const damage of ["delete", "truncate", "edit"] as const) {
      if (damage === "delete") await Deno.remove(meta);
      else if (damage === "truncate") await Deno.writeTextFile(meta, original.slice(0, 120));
      else {
        // A valid record that is not mup's: the port changed by hand (the server still runs on
        // the old one), a comment added (no change of the record: accepted).
        await Deno.writeTextFile(meta, `# checked\n${original}`);
        assert.ok((await display(home, "mc")).healthy, "a comment changes nothing");
        await Deno.writeTextFile(meta, original.replaceAll(`port: ${port}`, `port: ${port + 1}`));
      }
      const [row] = JSON.parse((await ok(home, ["cluster", "list", "--json"])).stdout);
      assert.equal(row.status, status[damage]);
      // The table says why and the way back, as the commands that refuse do.
      const listed = (await ok(home, ["cluster", "list"])).stdout;
      assert.ok(
        listed.includes(`mc: ${row.error}`) && listed.includes(`cp ${copy} ${meta}`),
        listed,
      );
      assert.doesNotMatch(JSON.stringify(row), /rolled back|not deployed/);
      for (
        const cmd of [["cluster", "display", "mc"], ["cluster", "stop", "mc", "--auto-approve"]]
      ) {
        const r = await mup(cmd, { home });
        assert.equal(r.code, 1, output(r));
        assert.match(
          r.stderr,
          new RegExp(`\`cp ${copy} ${meta}\` restores (it|mup's record)`),
          output(r),
        );
        if (damage !== "edit") continue;
        assert.match(
          r.stderr,
          new RegExp(
            `${meta} was changed outside mup: \\S*port is ${
              port + 1
            } there, ${port} in the record mup wrote`,
          ),
          output(r),
        );
      }
    }
    await Deno.copyFile(copy, meta);
    assert.ok((await display(home, "mc")).healthy);
    await ok(home, ["cluster", "stop", "mc", "--auto-approve"]);

    await ok(home, ["cluster", "destroy", "mc", "--auto-approve"]);
    for (const f of [meta, copy]) {
      assert.equal(await Deno.stat(f).then(() => true, () => false), false, `${f} remains`);
    }
  } finally {
    await killAll(home);
  }
});

Deno.test("meta.yaml and its copy both lost: the deployed cluster is not called rolled back or undeployed, destroy refuses, and a deploy of its topology records it again (tester39 H1)", async () => {
  const home = await tempHome();
  const [port] = stablePorts(1);
  try {
    const topo = standaloneTopology([port]);
    await deploy(home, "mc", topo);
    const dir = clusterDir(home, "mc");
    const pidBefore = (await display(home, "mc")).processes[0].pid;
    await Deno.remove(path.join(dir, "meta.yaml"));
    await Deno.remove(path.join(dir, "state", "meta.copy.yaml"));

    const [row] = JSON.parse((await ok(home, ["cluster", "list", "--json"])).stdout);
    assert.equal(row.status, "metadata missing");
    assert.doesNotMatch(JSON.stringify(row), /rolled back|not deployed/);
    assert.match(
      row.error,
      /is missing, but cluster mc was deployed: its apply \S+ \(deploy\) completed/,
    );
    for (
      const cmd of [
        ["cluster", "display", "mc"],
        ["cluster", "destroy", "mc", "--auto-approve"],
        ["cluster", "stop", "mc", "--auto-approve"],
      ]
    ) {
      const r = await mup(cmd, { home });
      assert.equal(r.code, 1, output(r));
      assert.match(r.stderr, /is missing, but cluster mc was deployed/, output(r));
      assert.match(r.stderr, /`mup cluster deploy mc <topology> --version <version>`/, output(r));
      assert.doesNotMatch(output(r), /rolled back|cluster destroy mc` removes/, output(r));
    }
    // Nothing was stopped or removed; the deploy the hint names records it again.
    assert.equal(
      (await Deno.readTextFile(path.join(dir, "deploy", `mongod-${port}`, "mongod.pid"))).trim(),
      String(pidBefore),
    );
    await deploy(home, "mc", topo);
    const shown = await display(home, "mc");
    assert.ok(shown.healthy);
    assert.equal(shown.processes[0].pid, pidBefore, "the running server was kept, not restarted");
  } finally {
    await killAll(home);
  }
});
