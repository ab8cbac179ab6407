/**
 * A destroy, and a rollback of a first deploy, remove the directories the layout made under the
 * deploy root, whatever the topology named them: relative global data_dir and log_dir (one of
 * them two levels deep).
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import {
  deployArgs,
  freePorts,
  killAll,
  mup,
  output,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { clusterDir } from "./apply_helpers.ts";
import { deploy, ok } from "./lifecycle_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

Deno.test("destroy of a cluster with relative global data_dir and log_dir leaves none of its directories", async () => {
  const home = await tempHome();
  try {
    const [p] = freePorts(1);
    await deploy(
      home,
      "lay",
      `global:\n  data_dir: my/data\n  log_dir: mylogs\nmongod_servers:\n  - { host: localhost, port: ${p} }\n`,
    );
    const root = path.join(clusterDir(home, "lay"), "deploy");
    assert.ok((await Deno.stat(path.join(root, "my", "data", `mongod-${p}`))).isDirectory);
    const destroyed = await ok(home, ["cluster", "destroy", "lay", "--auto-approve"]);
    for (const d of ["my/data", "my", "mylogs"]) {
      assert.match(
        destroyed.stdout,
        new RegExp(`✓ Remove directory localhost:${path.join(root, d)} \\(if empty\\)`),
        destroyed.stdout,
      );
    }
    assert.doesNotMatch(destroyed.stdout, new RegExp(`${path.join(root, "logs")} `));
    const left = await Deno.stat(clusterDir(home, "lay")).then(() => true, () => false);
    assert.ok(!left, "the cluster's directory is gone");
  } finally {
    await killAll(home);
  }
});

Deno.test("state rollback of a failed first deploy with relative global data_dir and log_dir leaves no deploy directory", async () => {
  const home = await tempHome();
  try {
    const [p] = freePorts(1);
    const topo = await writeTopology(
      home,
      "lay.yaml",
      `global:\n  data_dir: my/data\n  log_dir: mylogs\nmongod_servers:\n  - { host: localhost, port: ${p} }\n`,
    );
    const failed = await mup(deployArgs("lay", topo, await testMirror(), ["--auto-approve"]), {
      home,
      env: { MUP_SIM_CRASH_AT_STARTUP: "14" },
    });
    assert.equal(failed.code, 1, output(failed));
    const root = path.join(clusterDir(home, "lay"), "deploy");
    assert.ok((await Deno.stat(path.join(root, "my", "data", `mongod-${p}`))).isDirectory);
    await ok(home, ["state", "rollback", "lay", "--checkpoint", "start", "--auto-approve"]);
    const left = await Deno.stat(root).then(() => true, () => false);
    assert.ok(!left, "the deploy directory is gone");
  } finally {
    await killAll(home);
  }
});

Deno.test("destroy of a set whose members name one machine two ways (localhost, 127.0.0.1) removes its shared directories once", async () => {
  const home = await tempHome();
  try {
    const ports = freePorts(3);
    await deploy(
      home,
      "two",
      `mongod_servers:\n${
        ports.map((p, i) =>
          `  - { host: ${i === 1 ? "127.0.0.1" : "localhost"}, port: ${p}, replica_set: rs0 }\n`
        ).join("")
      }`,
    );
    const root = path.join(clusterDir(home, "two"), "deploy");
    // One machine, as the plan counts it.
    const listed = await ok(home, ["cluster", "list"]);
    assert.match(
      listed.stdout,
      /\ntwo\s+replica_set\s+\S+\s+\S+\s+running\s+1\s+3\s/,
      listed.stdout,
    );
    const destroyed = await ok(home, ["cluster", "destroy", "two", "--auto-approve"]);
    for (const d of ["bin", "data", "logs", "conf"]) {
      const lines = destroyed.stdout.split("\n").filter((l) =>
        l.includes(`✓ Remove directory `) && l.includes(`:${path.join(root, d)} (if empty)`)
      );
      assert.equal(lines.length, 1, `${d}:\n${destroyed.stdout}`);
    }
    assert.equal(
      destroyed.stdout.split("\n").filter((l) => /✓ Remove binaries /.test(l)).length,
      1,
      destroyed.stdout,
    );
    const left = await Deno.stat(clusterDir(home, "two")).then(() => true, () => false);
    assert.ok(!left, "the cluster's directory is gone");
  } finally {
    await killAll(home);
  }
});

Deno.test("destroy removes the binaries of a first deploy attempt of another version that failed, besides the deployed release's", async () => {
  const home = await tempHome();
  try {
    const [p] = freePorts(1);
    const file = await writeTopology(
      home,
      "twice.yaml",
      `mongod_servers:\n  - { host: localhost, port: ${p} }\n`,
    );
    const mirror = await testMirror();
    // The 6.0 attempt installs its binaries, then its server exits at startup.
    const failed = await mup(deployArgs("twice", file, mirror, ["--auto-approve"], "6.0"), {
      home,
      env: { MUP_SIM_CRASH_AT_STARTUP: "14" },
    });
    assert.equal(failed.code, 1, output(failed));
    const bin = path.join(clusterDir(home, "twice"), "deploy", "bin");
    assert.deepEqual(await names(bin), ["mongo-6.0.19"], "the failed attempt left its binaries");
    const again = await mup(deployArgs("twice", file, mirror, ["--auto-approve"]), { home });
    assert.equal(again.code, 0, output(again));
    assert.deepEqual(await names(bin), ["mongo-6.0.19", "mongo-7.0.14"]);

    const destroyed = await ok(home, ["cluster", "destroy", "twice", "--auto-approve"]);
    for (const r of ["mongo-6.0.19", "mongo-7.0.14"]) {
      assert.match(
        destroyed.stdout,
        new RegExp(`✓ Remove binaries localhost:${path.join(bin, r)}`),
        destroyed.stdout,
      );
    }
    const left = await Deno.stat(clusterDir(home, "twice")).then(() => true, () => false);
    assert.ok(!left, "the cluster's directory is gone, binaries and all");
  } finally {
    await killAll(home);
  }
});

async function names(dir: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
}
