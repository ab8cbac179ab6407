/** The demo's failure path: a failed demo says so, exits 1, and its resume command works pasted. */
import assert from "node:assert/strict";
import * as path from "node:path";
import {
  freePorts,
  killAll,
  mup,
  ROOT,
  shardedTopology,
  tempHome,
  writeTopology,
} from "./helpers.ts";
import { livePids } from "./lifecycle_helpers.ts";
import { admin, waitFor } from "./sim_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

/** `deno task demo …args` with MUP_HOME=home (and `env`), its output captured. */
function runDemo(home: string, args: string[], env: Record<string, string> = {}) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", path.join(ROOT, "scripts", "demo.ts"), ...args],
    cwd: home,
    env: { MUP_HOME: home, NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
}

Deno.test("demo: when the apply fails, the demo says so, exits 1, and the resume command it prints works when pasted", async () => {
  const home = await tempHome();
  try {
    const ports = freePorts(10);
    const topology = await writeTopology(home, "sharded.yaml", shardedTopology(ports));
    // The mongos crashes at startup: the apply fails.
    const demo = await runDemo(home, ["--keep", "--topology", topology], {
      MUP_SIM_CRASH_AT_STARTUP: "14",
      MUP_SIM_FAULT_PORTS: String(ports[9]),
    });
    const out = new TextDecoder().decode(demo.stdout);
    const all = out + new TextDecoder().decode(demo.stderr);
    assert.equal(demo.code, 1, all);
    assert.match(out, /The demo FAILED: applying the plan: mup plan apply exited with [1-9]/);
    assert.doesNotMatch(out, /The cluster is running/);
    const lines = out.split("\n");
    const resume = lines[lines.findIndex((l) => /To resume the apply, paste:/.test(l)) + 1]?.trim();
    assert.ok(resume, all);
    assert.match(resume, new RegExp(`MUP_HOME=${home}`));
    assert.match(resume, /task mup plan resume demo$/);
    // Pasted into a shell elsewhere, without the fault: the apply completes.
    const pasted = await new Deno.Command("sh", {
      args: ["-c", resume],
      cwd: "/",
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    assert.equal(pasted.code, 0, dec.decode(pasted.stdout) + dec.decode(pasted.stderr));
    await waitFor(async () => (await admin(ports[9], { ping: 1 })).ok);
    // `demo --stop` stops it through mup: the metadata says stopped, no process is left.
    const stop = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", path.join(ROOT, "scripts", "demo.ts"), "--stop"],
      env: { MUP_HOME: home, NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(stop.code, 0, dec.decode(stop.stdout) + dec.decode(stop.stderr));
    const listed = await mup(["cluster", "list", "--json"], { home });
    assert.equal(JSON.parse(listed.stdout)[0].status, "stopped", listed.stdout + listed.stderr);
    assert.deepEqual(await livePids(home, "demo"), []);
  } finally {
    await killAll(home);
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
});

Deno.test("demo: with ports 0 it finds mongos in the metadata, and stops the cluster through mup (cluster list: stopped)", async () => {
  const home = await tempHome();
  try {
    const topology = await writeTopology(home, "zero.yaml", shardedTopology(Array(10).fill(0)));
    const demo = await runDemo(home, ["--topology", topology]);
    const dec = new TextDecoder();
    const all = dec.decode(demo.stdout) + dec.decode(demo.stderr);
    assert.equal(demo.code, 0, all);
    assert.match(all, /inserted and read back: \{"hello":"world"\}/);
    assert.match(all, /\$ mup cluster stop demo --auto-approve/);
    const listed = await mup(["cluster", "list", "--json"], { home });
    assert.equal(JSON.parse(listed.stdout)[0].status, "stopped", listed.stdout + listed.stderr);
    assert.deepEqual(await livePids(home, "demo"), []);
  } finally {
    await killAll(home);
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
});

Deno.test("demo: a plan that fails pre-flight starts nothing and says so (no stop hint); --stop with nothing started says so", async () => {
  const home = await tempHome();
  const [port] = freePorts(1);
  const squatter = Deno.listen({ hostname: "127.0.0.1", port });
  try {
    const topology = await writeTopology(
      home,
      "one.yaml",
      `mongod_servers:\n  - { host: localhost, port: ${port} }\n`,
    );
    const run = (args: string[]) => runDemo(home, args);
    const demo = await run(["--topology", topology]);
    const text = new TextDecoder().decode(demo.stdout);
    assert.equal(demo.code, 1, text);
    assert.match(text, /The demo FAILED: planning/);
    assert.match(text, /Nothing was started\./);
    assert.doesNotMatch(text, /demo --stop/);
    const stop = await run(["--stop"]);
    const said = new TextDecoder().decode(stop.stdout);
    assert.equal(stop.code, 0, said);
    assert.match(said, /No demo cluster was ever started in .*: nothing to stop\./);
    assert.doesNotMatch(said, /Stopped the demo cluster/);
  } finally {
    squatter.close();
    await killAll(home);
  }
});
