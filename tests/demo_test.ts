/** The demo's failure path: a failed demo says so, exits 1, and its resume command works pasted. */
import assert from "node:assert/strict";
import * as path from "node:path";
import {
  freePorts,
  killAll,
  mup,
  replicaSetTopology,
  ROOT,
  shardedTopology,
  standaloneTopology,
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
    // A --base-port that is not a port, or moves the file's ports past 65535, and an option
    // the demo does not know (never ignored, tester78): refused before anything is made.
    const two = await writeTopology(
      home,
      "two.yaml",
      "mongod_servers:\n  - { host: localhost, port: 27017, replica_set: rs }\n" +
        "  - { host: localhost, port: 27018, replica_set: rs }\n",
    );
    for (
      const [extra, why] of [
        [["--base-port", "80"], /--base-port needs a port from 1024 to 65535 \(got 80\)/],
        [
          ["--base-port=65535"],
          /moves .*two\.yaml's highest port \(27018\) past 65535: .* at most 65534/,
        ],
        [["--bogus"], /Unknown option '--bogus'\nusage: deno task demo/],
      ] as const
    ) {
      const moved = await runDemo(home, ["--topology", two, ...extra], {
        MUP_HOME: path.join(home, "moved"),
      });
      assert.equal(moved.code, 1);
      assert.match(new TextDecoder().decode(moved.stderr), why);
      await assert.rejects(Deno.stat(path.join(home, "moved")));
    }
  } finally {
    squatter.close();
    await killAll(home);
  }
});

/** `deno task demo …args` as a user runs it: from `cwd`, without MUP_HOME, temp dirs in `tmp`. */
function taskDemo(cwd: string, tmp: string, args: string[]) {
  return new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "--config", path.join(ROOT, "deno.json"), "demo", ...args],
    cwd,
    // As from a shell: no MUP_HOME, and no INIT_CWD of the `deno task test` running the tests
    // (deno task keeps one it inherits).
    env: {
      ...Object.fromEntries(
        ["PATH", "HOME", "DENO_DIR"].flatMap((k) => {
          const v = Deno.env.get(k);
          return v === undefined ? [] : [[k, v]];
        }),
      ),
      TMPDIR: tmp,
      NO_COLOR: "1",
    },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
}

/** The demo homes (`mup-demo-*`) the demo left in `tmp`. */
async function demoHomesIn(tmp: string): Promise<string[]> {
  const out = [];
  for await (const e of Deno.readDir(tmp)) if (e.name.startsWith("mup-demo-")) out.push(e.name);
  return out;
}

Deno.test("demo --topology on a replica set (a path relative to where deno task runs): connects to the set, says so; --keep prints how to stop it, and --stop without MUP_HOME finds it", async () => {
  const tmp = await tempHome();
  const ports = freePorts(3);
  try {
    await writeTopology(tmp, "rs.yaml", replicaSetTopology(ports));
    const dec = new TextDecoder();
    const demo = await taskDemo(tmp, tmp, ["--keep", "--topology", "rs.yaml"]);
    const out = dec.decode(demo.stdout);
    assert.equal(demo.code, 0, out + dec.decode(demo.stderr));
    assert.match(out, /Without credentials replica set rs0 refuses to read: .*\(code 13\)/);
    assert.doesNotMatch(out, /\bmongos\b/);
    assert.match(out, /Using replica set rs0 with the MongoDB driver as admin/);
    assert.match(out, new RegExp(`member localhost:${ports[0]}: PRIMARY`));
    assert.match(out, /inserted and read back: \{"hello":"world"\}/);
    const [made] = await demoHomesIn(tmp);
    const lines = out.split("\n");
    const stop = lines[lines.findIndex((l) => /To stop it, paste:/.test(l)) + 1]?.trim();
    assert.ok(stop?.includes(`MUP_HOME=${path.join(tmp, made)} `), out);
    assert.match(stop, /task demo --stop$/);
    // --stop without MUP_HOME: the one demo home with a running cluster is the one it stops.
    const stopped = await taskDemo(tmp, tmp, ["--stop"]);
    const said = dec.decode(stopped.stdout);
    assert.equal(stopped.code, 0, said + dec.decode(stopped.stderr));
    assert.match(said, new RegExp(`stopping the demo cluster in MUP_HOME=${path.join(tmp, made)}`));
    assert.match(said, /Stopped the demo cluster/);
    const rm = new RegExp(`Its files stay there; \`rm -rf ${path.join(tmp, made)}\` removes them`);
    assert.match(said, rm);
    assert.deepEqual(await livePids(path.join(tmp, made), "demo"), []);
    // The stop command the demo printed, pasted: the cluster is already stopped, and the hint
    // names the home it was given.
    const pasted = await new Deno.Command("sh", {
      args: ["-c", stop],
      cwd: "/",
      env: { NO_COLOR: "1", TMPDIR: tmp },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(pasted.code, 0, dec.decode(pasted.stdout) + dec.decode(pasted.stderr));
    assert.match(dec.decode(pasted.stdout), rm);
    // Nothing is left to stop: it says which MUP_HOME to give, exit 1, and makes no new home.
    const again = await taskDemo(tmp, tmp, ["--stop"]);
    assert.equal(again.code, 1, dec.decode(again.stdout));
    assert.match(dec.decode(again.stdout), /No demo cluster to stop in .*Give the MUP_HOME/);
    assert.deepEqual(await demoHomesIn(tmp), [made]);
  } finally {
    await killAll(tmp);
  }
});

Deno.test("demo --topology on a standalone, --base-port: uses the standalone mongod on the moved port, stops it, and removes the temp MUP_HOME it made", async () => {
  const tmp = await tempHome();
  const [port] = freePorts(1);
  try {
    // 27017 in the file, moved to a free port: the demo never touches 27017.
    const file = await writeTopology(tmp, "one.yaml", standaloneTopology([27017]));
    const dec = new TextDecoder();
    const demo = await taskDemo(tmp, tmp, ["--topology", file, "--base-port", String(port)]);
    const out = dec.decode(demo.stdout);
    assert.equal(demo.code, 0, out + dec.decode(demo.stderr));
    assert.match(out, new RegExp(`Ports moved to start at ${port}: .*/topology\\.yaml`));
    assert.match(out, new RegExp(`mongod localhost:${port}: version`));
    assert.match(out, /Without credentials the standalone mongod refuses to read/);
    assert.doesNotMatch(out, /\bmongos\b/);
    assert.match(out, /inserted and read back: \{"hello":"world"\}/);
    assert.match(out, /Removed the demo's MUP_HOME .*mup-demo-/);
    assert.deepEqual(await demoHomesIn(tmp), []);
  } finally {
    await killAll(tmp);
  }
});
