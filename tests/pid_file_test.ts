/**
 * A running server is known by its pid file, and, when that is gone or names another process,
 * by who listens on its recorded port with its configuration file: a stop must not report
 * "already stopped" and leave it running, nor a destroy remove its data and metadata under it.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import {
  deployArgs,
  killAll,
  standaloneTopology,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { display, installedMongod, ok, portFree, stablePorts } from "./lifecycle_helpers.ts";
import { alive } from "../scripts/_pids.ts";
import { installFixture } from "./fixture.ts";

installFixture();

Deno.test("a standalone whose pid file was deleted is shown running, stopped by cluster stop, and stopped before destroy removes its data", async () => {
  const home = await tempHome();
  const [port] = stablePorts(1);
  try {
    const file = await writeTopology(home, "pf.yaml", standaloneTopology([port]));
    await ok(home, deployArgs("pf", file, await testMirror(), ["--auto-approve"]));
    const deployDir = path.join(home, "storage", "clusters", "pf", "deploy");
    const pidFile = path.join(deployDir, `mongod-${port}`, "mongod.pid");
    const pid = Number((await Deno.readTextFile(pidFile)).trim());
    await Deno.remove(pidFile);
    const shown = (await display(home, "pf")).processes[0] as { pid?: number; state: string };
    assert.equal(shown.pid, pid, JSON.stringify(shown));

    // A stop finds it by its port and stops it: not "already stopped".
    const stopped = await ok(home, ["cluster", "stop", "pf", "--auto-approve"]);
    assert.doesNotMatch(stopped.stdout, /already stopped/, stopped.stdout);
    assert.equal(alive(pid), false, `mongod ${pid} still runs:\n${stopped.stdout}`);
    assert.ok(await portFree(port));

    // Started again, its pid file overwritten with an unrelated live PID: destroy stops the
    // server (not the unrelated process) before it removes the data.
    await ok(home, ["cluster", "start", "pf", "--auto-approve"]);
    const again = Number((await Deno.readTextFile(pidFile)).trim());
    const other = new Deno.Command("sleep", { args: ["60"] }).spawn();
    try {
      await Deno.writeTextFile(pidFile, `${other.pid}\n`);
      await ok(home, ["cluster", "destroy", "pf", "--auto-approve"]);
      assert.equal(alive(again), false, `mongod ${again} still runs after destroy`);
      assert.ok(await portFree(port));
      assert.equal(alive(other.pid), true, "the unrelated process was not signalled");
    } finally {
      other.kill("SIGKILL");
      await other.status;
    }
  } finally {
    await killAll(home);
  }
});

Deno.test("a server started by hand from its configuration's directory (a relative -f) is the cluster's own: shown running with its PID, and cluster stop stops it", async () => {
  const home = await tempHome();
  const [port] = stablePorts(1);
  try {
    const file = await writeTopology(home, "rel.yaml", standaloneTopology([port]));
    await ok(home, deployArgs("rel", file, await testMirror(), ["--auto-approve"]));
    await ok(home, ["cluster", "stop", "rel", "--auto-approve"]);
    const deployDir = path.join(home, "storage", "clusters", "rel", "deploy");
    const confDir = path.join(deployDir, "conf", `mongod-${port}`);
    const mongod = await installedMongod(deployDir);
    // What an operator might do: cd to the configuration, then start the server with it.
    const byHand = await new Deno.Command(mongod, {
      args: ["-f", "mongod.conf"],
      cwd: confDir,
      stdin: "null",
    }).output();
    assert.equal(byHand.code, 0, new TextDecoder().decode(byHand.stderr));
    const pidFile = path.join(deployDir, `mongod-${port}`, "mongod.pid");
    const pid = Number((await Deno.readTextFile(pidFile)).trim());
    assert.ok(alive(pid), "the server started by hand runs");

    const shown = (await display(home, "rel")).processes[0] as { pid?: number; state: string };
    assert.equal(shown.pid, pid, JSON.stringify(shown));
    // Its pid file gone too, it is known by its port alone.
    await Deno.remove(pidFile);
    const stopped = await ok(home, ["cluster", "stop", "rel", "--auto-approve"]);
    assert.doesNotMatch(stopped.stdout, /not running|already stopped/, stopped.stdout);
    assert.equal(alive(pid), false, `mongod ${pid} still runs:\n${stopped.stdout}`);
    assert.ok(await portFree(port));
  } finally {
    await killAll(home);
  }
});

Deno.test("cluster start while a server started by hand with --config=<relative> is still starting: mup waits for that one and starts no second", async () => {
  const home = await tempHome();
  const [port] = stablePorts(1);
  try {
    const file = await writeTopology(home, "slow.yaml", standaloneTopology([port]));
    await ok(home, deployArgs("slow", file, await testMirror(), ["--auto-approve"]));
    await ok(home, ["cluster", "stop", "slow", "--auto-approve"]);
    const deployDir = path.join(home, "storage", "clusters", "slow", "deploy");
    const mongod = await installedMongod(deployDir);
    // From the deploy directory, naming the configuration relatively; slow to come up.
    const byHand = new Deno.Command(mongod, {
      args: [`--config=conf/mongod-${port}/mongod.conf`],
      cwd: deployDir,
      env: { MUP_SIM_STARTUP_DELAY_MS: "3000" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const started = await ok(home, ["cluster", "start", "slow", "--auto-approve"]);
    const forked = await byHand.output();
    assert.equal(forked.code, 0, new TextDecoder().decode(forked.stderr));
    const pidFile = path.join(deployDir, `mongod-${port}`, "mongod.pid");
    const pid = Number((await Deno.readTextFile(pidFile)).trim());
    assert.ok(alive(pid), started.stdout);
    // It says it started none: it awaited the one under way.
    assert.match(
      started.stdout,
      new RegExp(`✓ Started mongod localhost:${port} \\(already running\\)`),
    );
    // One server on the configuration: the one started by hand.
    const servers = [...Deno.readDirSync("/proc")].filter((e) => /^\d+$/.test(e.name)).filter(
      (e) => {
        try {
          const argv = Deno.readTextFileSync(`/proc/${e.name}/cmdline`).split("\0");
          return argv.some((a) => a.endsWith(`mongod-${port}/mongod.conf`)) &&
            alive(Number(e.name));
        } catch {
          return false;
        }
      },
    );
    assert.equal(servers.length, 1, `${servers.map((e) => e.name)}\n${started.stdout}`);
  } finally {
    await killAll(home);
  }
});

Deno.test("cluster stop and destroy while a server started by hand is still starting: it is stopped, not called stopped and left to come up", async () => {
  const home = await tempHome();
  const [port] = stablePorts(1);
  const children: Deno.ChildProcess[] = [];
  try {
    const file = await writeTopology(home, "early.yaml", standaloneTopology([port]));
    await ok(home, deployArgs("early", file, await testMirror(), ["--auto-approve"]));
    await ok(home, ["cluster", "stop", "early", "--auto-approve"]);
    const deployDir = path.join(home, "storage", "clusters", "early", "deploy");
    const mongod = await installedMongod(deployDir);
    const conf = path.join(deployDir, "conf", `mongod-${port}`, "mongod.conf");
    // Slow to come up: no pid file, no port, for 20 s (the stop must not wait that out).
    const startByHand = async () => {
      const child = new Deno.Command(mongod, {
        args: ["-f", conf],
        env: { MUP_SIM_STARTUP_DELAY_MS: "20000" },
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
      children.push(child);
      // Under way once its forked server runs with the configuration.
      for (const end = Date.now() + 30_000; serversOf(conf).length < 2;) {
        if (Date.now() > end) throw new Error(`no server started with ${conf}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return serversOf(conf);
    };

    const first = await startByHand();
    const shown = (await display(home, "early", 1)).processes[0];
    assert.equal(shown.state, "STARTUP");
    assert.equal(shown.healthy, false);
    assert.match(shown.reason ?? "", /its own server \(PID \d+, \d+\) is starting/);
    const stopped = await ok(home, ["cluster", "stop", "early", "--auto-approve"]);
    assert.match(stopped.stdout, /a start of it was under way \(pid \d+/, stopped.stdout);
    assert.doesNotMatch(stopped.stdout, /already stopped/, stopped.stdout);
    for (const pid of first) assert.equal(alive(pid), false, `${pid} runs:\n${stopped.stdout}`);
    assert.equal((await display(home, "early", 1)).processes[0].state, "DOWN");

    const second = await startByHand();
    const destroyed = await ok(home, ["cluster", "destroy", "early", "--auto-approve"]);
    for (const pid of second) {
      assert.equal(alive(pid), false, `${pid} runs:\n${destroyed.stdout}`);
    }
    assert.equal(await Deno.stat(deployDir).then(() => true, () => false), false);
  } finally {
    for (const c of children) {
      try {
        c.kill("SIGKILL");
      } catch { /* exited */ }
      await c.status;
    }
    await killAll(home);
  }
});

/** PIDs of the live processes whose arguments name `conf`. */
function serversOf(conf: string): number[] {
  return [...Deno.readDirSync("/proc")].filter((e) => /^\d+$/.test(e.name)).filter((e) => {
    try {
      return Deno.readTextFileSync(`/proc/${e.name}/cmdline`).split("\0").includes(conf) &&
        alive(Number(e.name));
    } catch {
      return false;
    }
  }).map((e) => Number(e.name));
}

Deno.test("a server started by hand with a copy of its configuration (same port and pid file) is the cluster's own: cluster stop stops it rather than call it stopped", async () => {
  const home = await tempHome();
  const [port] = stablePorts(1);
  try {
    const file = await writeTopology(home, "copy.yaml", standaloneTopology([port]));
    await ok(home, deployArgs("copy", file, await testMirror(), ["--auto-approve"]));
    await ok(home, ["cluster", "stop", "copy", "--auto-approve"]);
    const deployDir = path.join(home, "storage", "clusters", "copy", "deploy");
    const copy = path.join(home, "edited.conf");
    await Deno.copyFile(path.join(deployDir, "conf", `mongod-${port}`, "mongod.conf"), copy);
    const byHand = await new Deno.Command(await installedMongod(deployDir), {
      args: ["-f", copy],
      stdin: "null",
    }).output();
    assert.equal(byHand.code, 0, new TextDecoder().decode(byHand.stderr));
    const pid = Number(
      (await Deno.readTextFile(path.join(deployDir, `mongod-${port}`, "mongod.pid"))).trim(),
    );
    assert.ok(alive(pid));
    const stopped = await ok(home, ["cluster", "stop", "copy", "--auto-approve"]);
    assert.doesNotMatch(stopped.stdout, /already stopped/, stopped.stdout);
    assert.equal(alive(pid), false, `mongod ${pid} still runs:\n${stopped.stdout}`);
    assert.ok(await portFree(port));
  } finally {
    await killAll(home);
  }
});
