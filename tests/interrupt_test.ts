/**
 * Ctrl-C in a real terminal (tmux), at random instants of the apply of a 3-member replica set
 * (with a hook after each phase), through `deno run` and through `deno task mup`: the servers
 * and hooks mup started are not stopped by it (a hook killed by it would fail the apply), the
 * apply ends paused (one press: running operations finish; two presses: stop at once), the lock
 * is free or left by a dead process, and `plan resume` completes the deploy.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import {
  deployArgs,
  freePorts,
  killAll,
  mup,
  output,
  portFree,
  portTakenBefore,
  pressCtrlCTwice,
  replicaSetTopology,
  ROOT,
  spawnMup,
  standaloneTopology,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { mupRunArgs } from "../scripts/_mup_cmd.ts";
import { clusterDir, withClient } from "./apply_helpers.ts";
import { opExecuting } from "./lifecycle_helpers.ts";
import { StateStore } from "../lib/state/store.ts";
import type { ApplyState } from "../lib/state/schema.ts";
import { isStale, procStart, readLock } from "../lib/state/lock.ts";
import { pidAlive } from "../lib/executor/local.ts";
import { interruptHandler, SAME_PRESS_MS } from "../lib/cli/apply_cli.ts";
import { deadline, installFixture } from "./fixture.ts";

installFixture();

const CYCLES = 10;
/** Cycles run at once (each its own cluster, ports and terminal). */
const LANES = 3;

class Tmux {
  /** A server of its own: other tests' `kill-session`/`kill-server` cannot end ours. */
  readonly socket = `mup-int-${Deno.pid}`;

  async run(...args: string[]): Promise<string> {
    const r = await new Deno.Command("tmux", {
      args: ["-L", this.socket, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    if (!r.success) throw new Error(`tmux ${args.join(" ")}: ${dec.decode(r.stderr)}`);
    return dec.decode(r.stdout);
  }

  /** Stops the server and removes its socket file (kill-server may leave it behind). */
  async stop(): Promise<void> {
    await this.run("kill-server").catch(() => "");
    const dir = `${Deno.env.get("TMUX_TMPDIR") ?? "/tmp"}/tmux-${Deno.uid()}`;
    await Deno.remove(`${dir}/${this.socket}`).catch(() => {});
  }

  async screenUntil(session: string, pattern: RegExp, ms = 90_000): Promise<string> {
    const end = Date.now() + deadline(ms);
    let s = "";
    while (Date.now() < end) {
      s = await this.run("capture-pane", "-p", "-J", "-S", "-300", "-t", session);
      if (pattern.test(s)) return s;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting for ${pattern} on screen:\n${s}`);
  }
}

/**
 * Polls the cluster's current apply state (every 50 ms) until `ready` says so; throws `never`
 * after `until` (Date.now() ms). A state being written is read again next time.
 */
async function untilApplied(
  store: StateStore,
  until: number,
  never: string,
  ready: (st: ApplyState | undefined) => boolean,
): Promise<void> {
  for (;;) {
    const id = await store.currentId().catch(() => undefined);
    if (ready(id ? await store.load(id).catch(() => undefined) : undefined)) return;
    if (Date.now() > until) throw new Error(never);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Two Ctrl-Cs to a `--json` mup: it must exit 130; returns its last document and stdout. */
async function cutTwiceJson(
  child: Deno.ChildProcess,
): Promise<{ doc: { hint: string } & Record<string, unknown>; stdout: string }> {
  const { err, stderr } = await pressCtrlCTwice(child);
  await stderr.cancel().catch(() => {});
  const stdout = await new Response(child.stdout).text();
  assert.equal((await child.status).code, 130, stdout + err);
  return { doc: JSON.parse(stdout.trim().split("\n").at(-1)!), stdout };
}

/** Every pid recorded in a pid file under `dir`. */
async function pidFiles(dir: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const walk = async (d: string): Promise<void> => {
    for (const e of await Array.fromAsync(Deno.readDir(d)).catch(() => [] as Deno.DirEntry[])) {
      const p = path.join(d, e.name);
      if (e.isDirectory) await walk(p);
      else if (e.name.endsWith(".pid")) {
        const pid = Number((await Deno.readTextFile(p).catch(() => "")).trim());
        if (pid > 0) out.set(p, pid);
      }
    }
  };
  await walk(dir);
  return out;
}

async function untilFile(file: string, ms: number, never = `${file} never appeared`) {
  const end = Date.now() + deadline(ms);
  while (!(await Deno.stat(file).then(() => true, () => false))) {
    if (Date.now() > end) throw new Error(never);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Outcome {
  cycle: number;
  via: string;
  presses: number;
  delayMs: number;
  exit: number;
  status: string;
  running: number;
}

async function cycle(
  tmux: Tmux,
  home: string,
  mirror: string,
  i: number,
): Promise<Outcome> {
  const cluster = `c${i}`;
  const ports = freePorts(3);
  // A hook after each phase: a Ctrl-C may land while one runs, and must let it finish too.
  const topo = await writeTopology(
    home,
    `${cluster}.yaml`,
    replicaSetTopology(ports, `hooks:\n  after_phase: { command: "sleep 0.2" }\n`),
  );
  const dir = clusterDir(home, cluster);
  const viaTask = i % 2 === 1;
  const presses = i % 3 === 2 ? 2 : 1;
  const args = deployArgs(cluster, topo, mirror, ["--auto-approve"]);
  const mupCmd = viaTask
    ? [
      Deno.execPath(),
      "task",
      "--quiet",
      `--config=${path.join(ROOT, "deno.json")}`,
      "mup",
      ...args,
    ]
    : [Deno.execPath(), ...mupRunArgs(args)];
  const session = `int-${i}`;
  await tmux.run(
    "new-session",
    "-d",
    "-s",
    session,
    "-x",
    "200",
    "-y",
    "50",
    // The shell traps SIGINT so that it lives on to print mup's exit code; mup itself gets the
    // default disposition, as from an interactive shell.
    `trap 'true' INT; cd ${ROOT} && MUP_HOME=${home} NO_COLOR=1 ${
      mupCmd.join(" ")
    }; echo EXIT=$?; read -r _`,
  );
  try {
    // A random instant of the apply: the lock is taken just before it starts.
    await untilFile(path.join(dir, "state", "lock.json"), 60_000);
    const delayMs = Math.floor(Math.random() * 2500);
    await new Promise((r) => setTimeout(r, delayMs));
    await tmux.run("send-keys", "-t", session, "C-c");
    if (presses === 2) {
      await new Promise((r) => setTimeout(r, SAME_PRESS_MS + 100));
      await tmux.run("send-keys", "-t", session, "C-c");
    }
    const screen = await tmux.screenUntil(session, /EXIT=\d+|Pane is dead/);
    // -1: the shell died without printing mup's exit code.
    const exit = Number(/EXIT=(\d+)/.exec(screen)?.[1] ?? -1);
    const context = `cycle ${i} (${
      viaTask ? "deno task" : "deno run"
    }, ${presses} × Ctrl-C ${delayMs} ms into the apply, exit ${exit}):\n${screen}`;

    const store = new StateStore(dir);
    const id = await store.currentId();
    if (!id) {
      await cancelledBeforeStart(screen, exit, context, home, dir, ports, i);
      const via = viaTask ? "deno task" : "deno run";
      return { cycle: i, via, presses, delayMs, exit, status: "cancelled", running: 0 };
    }
    const state = await store.load(id);
    assert.ok(
      state.status === "paused" || state.status === "completed",
      `paused (or finished before the Ctrl-C), not ${state.status}: ${context}`,
    );
    assert.deepEqual(state.errors, [], context);
    // Paused by the interrupt: 130 however many presses, as a process ended by SIGINT exits.
    assert.equal(exit, state.status === "paused" ? 130 : 0, context);
    const lock = await readLock(dir);
    assert.ok(!lock || isStale(lock), `lock free or stale: ${context}`);
    const pids = await pidFiles(path.join(dir, "deploy"));
    for (const [file, pid] of pids) {
      assert.ok(pidAlive(pid), `${file}: server ${pid} still running after the Ctrl-C: ${context}`);
    }
    const startedOps = Object.values(state.operation_states).filter((o) =>
      o.id.startsWith("start-") && o.status === "completed"
    ).length;
    assert.ok(pids.size >= startedOps, `every started server has its pid file: ${context}`);

    const resumed = await mup(["plan", "resume", cluster], { home });
    assert.equal(
      resumed.code,
      0,
      `resume after ${context}\n${resumed.stdout}${resumed.stderr}`,
    );
    const done = await store.load(state.state_id);
    assert.equal(done.status, "completed");
    for (const [file, pid] of await pidFiles(path.join(dir, "deploy"))) {
      assert.ok(pidAlive(pid), `${file}: ${pid} running after the resume`);
    }
    await withClient(
      `mongodb://localhost:${ports.join(",localhost:")}/?replicaSet=rs0`,
      async (c) => {
        await c.db("t").collection("t").insertOne({ cycle: i });
      },
      { home, cluster: cluster },
    );
    return {
      cycle: i,
      via: viaTask ? "deno task" : "deno run",
      presses,
      delayMs,
      exit,
      status: state.status,
      running: pids.size,
    };
  } finally {
    await tmux.run("kill-session", "-t", session).catch(() => "");
    await killAll(dir);
  }
}

/**
 * A Ctrl-C that came after the lock was taken but before the apply recorded its state (its
 * checks under the lock): the apply never began. It says so, exits 130, leaves the lock free and
 * nothing running, and the plan it kept applies.
 */
async function cancelledBeforeStart(
  screen: string,
  exit: number,
  context: string,
  home: string,
  dir: string,
  ports: number[],
  i: number,
): Promise<void> {
  assert.match(screen, /Apply cancelled: interrupted before it started/, context);
  assert.equal(exit, 130, context);
  assert.equal(await readLock(dir), undefined, `lock released: ${context}`);
  assert.equal((await pidFiles(path.join(dir, "deploy"))).size, 0, context);
  const planId = /mup plan apply (plan-\w+)/.exec(screen)?.[1];
  assert.ok(planId, `the command that applies the kept plan: ${context}`);
  const applied = await mup(["plan", "apply", planId, "--auto-approve"], { home });
  assert.equal(applied.code, 0, `apply after ${context}\n${output(applied)}`);
  await withClient(
    `mongodb://localhost:${ports.join(",localhost:")}/?replicaSet=rs0`,
    (c) => c.db("t").collection("t").insertOne({ cycle: i }).then(() => {}),
    { home, cluster: `c${i}` },
  );
}

Deno.test(`Ctrl-C in a terminal, ${CYCLES} times at random instants of a replica-set apply: servers keep running, the apply is paused, the lock free or stale, resume completes`, async () => {
  const home = await tempHome();
  const tmux = new Tmux();
  const mirror = await testMirror();
  const outcomes: Outcome[] = [];
  try {
    // The server must exist before sessions start in parallel.
    await tmux.run("new-session", "-d", "-s", "keep", "sleep 3600");
    // A pane whose shell died stays readable.
    await tmux.run("set-option", "-g", "remain-on-exit", "on");
    let next = 0;
    await Promise.all(Array.from({ length: LANES }, async () => {
      while (next < CYCLES) outcomes.push(await cycle(tmux, home, mirror, next++));
    }));
    for (const o of outcomes.sort((a, b) => a.cycle - b.cycle)) {
      console.log(
        `  cycle ${o.cycle}: ${o.via}, ${o.presses} × Ctrl-C at ${o.delayMs} ms → exit ${o.exit}, ${o.status}, ${o.running} servers running`,
      );
    }
    assert.ok(
      outcomes.filter((o) => o.status === "paused").length >= CYCLES / 2,
      "most Ctrl-Cs landed during the apply",
    );
  } finally {
    await tmux.stop();
    await killAll(home);
  }
});

Deno.test("Ctrl-C while the apply waits for another mup's claims lock, before it recorded anything: apply cancelled, nothing recorded or running, the lock free, exit 130; the plan it kept applies", async () => {
  const home = await tempHome();
  const root = path.join(home, "storage");
  const claims = path.join(root, "claims.lock");
  const [port] = freePorts(1);
  const dir = clusterDir(home, "w");
  try {
    await Deno.mkdir(root, { recursive: true });
    // Held by a live process (this test): the apply waits for it, under its cluster lock.
    await Deno.writeTextFile(
      claims,
      JSON.stringify({
        format_version: 1,
        id: "held-by-test",
        operation: "apply plan-other",
        who: "test@host",
        host: Deno.hostname(),
        pid: Deno.pid,
        pid_start: procStart(Deno.pid),
        created: new Date().toISOString(),
      }),
    );
    const topo = await writeTopology(home, "w.yaml", standaloneTopology([port]));
    const child = spawnMup(deployArgs("w", topo, await testMirror(), ["--auto-approve"]), home);
    // Waiting: its own lock file is written aside, beside the one held.
    const until = Date.now() + deadline(60_000);
    const waiting = async () =>
      (await Array.fromAsync(Deno.readDir(root))).some((e) => e.name.startsWith("claims.lock."));
    while (!(await waiting())) {
      if (Date.now() > until) throw new Error("the apply never came to the claims lock");
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(await readLock(dir), "it waits under its cluster lock");
    child.kill("SIGINT");
    const { code, stdout, stderr } = await child.output();
    const dec = new TextDecoder();
    const out = dec.decode(stdout);
    const context = `${out}${dec.decode(stderr)}`;
    assert.equal(code, 130, context);
    assert.match(out, /Apply cancelled: interrupted before it started/, context);
    assert.doesNotMatch(context, /saved as paused/, context);
    assert.equal(await new StateStore(dir).currentId(), undefined, context);
    assert.equal(await readLock(dir), undefined, `lock released: ${context}`);
    assert.equal((await pidFiles(path.join(dir, "deploy"))).size, 0, context);
    const planId = /mup plan apply (plan-\w+)/.exec(out)?.[1];
    assert.ok(planId, context);
    await Deno.remove(claims);
    const applied = await mup(["plan", "apply", planId, "--auto-approve"], { home });
    assert.equal(applied.code, 0, output(applied));
    assert.equal(portFree(port), false, "the kept plan's server runs");
  } finally {
    await killAll(home);
  }
});

Deno.test("one Ctrl-C delivered as several SIGINTs (npx, deno task) counts once; the next press is the second", () => {
  let t = 1000;
  const calls: string[] = [];
  const onSigint = interruptHandler({
    first: () => calls.push("first"),
    second: () => void calls.push("second"),
  }, () => t);
  onSigint();
  t += 1;
  onSigint(); // forwarded copies of the same press
  onSigint();
  assert.deepEqual(calls, ["first"]);
  t += SAME_PRESS_MS;
  onSigint();
  assert.deepEqual(calls, ["first", "second"]);
  t += 5000;
  onSigint();
  assert.deepEqual(calls, ["first", "second"], "nothing after the second");
});

Deno.test("Ctrl-C at the safety-check menu pauses the apply (resumable; state show calls its phase paused) and exits 130, like Ctrl-C elsewhere", async () => {
  const home = await tempHome();
  const tmux = new Tmux();
  const ports = freePorts(3);
  const session = "menu";
  try {
    // Planned while the port is free, taken once the apply comes to its start: its safety
    // check fails (taken before, the apply would refuse at once).
    const taken = portTakenBefore(home, `start-mongod-localhost-${ports[2]}`, ports[2]);
    const topo = await writeTopology(home, "c1.yaml", replicaSetTopology(ports, taken.hooks));
    const planned = await mup(
      deployArgs("c1", topo, await testMirror(), ["--plan-only", "--json"]),
      { home },
    );
    assert.equal(planned.code, 0, output(planned));
    let squatter: Deno.Listener | undefined;
    try {
      await tmux.run(
        "new-session",
        "-d",
        "-s",
        session,
        "-x",
        "160",
        "-y",
        "50",
        `trap 'true' INT; cd ${ROOT} && MUP_HOME=${home} NO_COLOR=1 ${Deno.execPath()} ${
          mupRunArgs(["plan", "apply", "c1"]).join(" ")
        }; echo EXIT=$?; read -r _`,
      );
      await tmux.screenUntil(session, /Do you want to continue\? \(yes\/no\):/);
      await tmux.run("send-keys", "-t", session, "yes", "Enter");
      squatter = await taken.take();
      await tmux.screenUntil(session, /Options:/);
      await tmux.run("send-keys", "-t", session, "C-c");
      const screen = await tmux.screenUntil(session, /EXIT=\d+/);
      assert.match(screen, /Interrupted: letting running operations finish/, screen);
      assert.match(screen, /Apply paused \(interrupted\) during phase 2/, screen);
      assert.match(screen, /EXIT=130/, screen);
      assert.doesNotMatch(screen, /ExitPromptError|force closed/, screen);
      const store = new StateStore(clusterDir(home, "c1"));
      const state = await store.load((await store.currentId())!);
      assert.equal(state.status, "paused");
      assert.deepEqual(state.errors, []);
      // Nothing was cut off: state show calls the phase paused, not interrupted.
      const shown = await mup(["state", "show", "c1"], { home });
      assert.match(shown.stdout, /, 0 interrupted, /, shown.stdout);
      assert.match(shown.stdout, /\n {2}deploy +paused\n/, shown.stdout);
    } finally {
      squatter?.close();
    }
    const resumed = await mup(["plan", "resume", "c1"], { home });
    assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
  } finally {
    await tmux.stop();
    await killAll(home);
  }
});

Deno.test("after a second Ctrl-C stopped mup at once, state show calls the operations it cut off interrupted (resume checks them again); an apply replaced since is listed superseded", async () => {
  const home = await tempHome();
  const [port] = freePorts(1);
  const dir = clusterDir(home, "hard");
  try {
    const topo = await writeTopology(home, "hard.yaml", standaloneTopology([port]));
    // A slow start: the second Ctrl-C lands while start_process runs.
    const child = spawnMup(
      deployArgs("hard", topo, await testMirror(), ["--auto-approve"]),
      home,
      { MUP_SIM_STARTUP_DELAY_MS: "5000" },
    );
    const store = new StateStore(dir);
    const until = Date.now() + deadline(60_000);
    await untilApplied(
      store,
      until,
      "the start never began",
      (st) =>
        Object.values(st?.operation_states ?? {}).some((o) =>
          o.id.startsWith("start-") && o.status === "running"
        ),
    );
    const { err, stderr } = await pressCtrlCTwice(child);
    const status = await child.status;
    await stderr.cancel().catch(() => {});
    await child.stdout.cancel().catch(() => {});
    assert.equal(status.code, 130, err);
    const paused = await store.load((await store.currentId())!);
    assert.equal(paused.status, "paused");

    const shown = await mup(["state", "show", "hard"], { home });
    assert.equal(shown.code, 0, output(shown));
    assert.match(shown.stdout, /Status: paused/);
    assert.match(shown.stdout, /, 1 interrupted, /, shown.stdout);
    assert.doesNotMatch(shown.stdout, /\d+ running/, "nothing of a stopped mup runs");
    assert.match(shown.stdout, /deploy +interrupted/);
    assert.match(shown.stdout, /`mup plan resume hard` checks each again/);

    // A new plan applied instead: the paused apply is superseded, not offered for resume.
    const again = await mup(deployArgs("hard", topo, await testMirror(), ["--auto-approve"]), {
      home,
    });
    assert.equal(again.code, 0, output(again));
    const rows = JSON.parse((await mup(["state", "list", "hard", "--json"], { home })).stdout);
    const old = rows.find((r: { state_id: string }) => r.state_id === paused.state_id);
    assert.equal(old.status, "superseded");
    assert.equal(old.recorded_status, "paused");
    const listed = await mup(["state", "list", "hard"], { home });
    assert.match(listed.stdout, new RegExp(`${paused.state_id} +plan-\\w+ +superseded`));
    const oldShown = await mup(["state", "show", "hard", "--state-id", paused.state_id], { home });
    assert.match(
      oldShown.stdout,
      /superseded by apply apply-\w+, which replaced it: it cannot be resumed/,
    );
    assert.doesNotMatch(oldShown.stdout, /plan resume/);
  } finally {
    await killAll(home);
  }
});

Deno.test("a second Ctrl-C while a restart's stop runs: mup names the member whose stop it cut off (stop_cut_off under --json), not nothing; the resume finishes the stop and starts it (tester111 #2)", async () => {
  const home = await tempHome();
  const [port] = freePorts(1);
  const gate = path.join(home, "gate");
  const marker = path.join(home, "stop-hook-running");
  const pidFile = path.join(clusterDir(home, "cut"), "deploy", `mongod-${port}`, "mongod.pid");
  let frozen = 0;
  try {
    // The hook before the stop waits while the gate file is there.
    const hook = `test "$MUP_OPERATION_TYPE" != stop_process || ` +
      `{ touch ${marker}; while test -f ${gate}; do sleep 0.1; done; }`;
    const topo = await writeTopology(
      home,
      "cut.yaml",
      standaloneTopology([port]) +
        `hooks:\n  before_operation:\n    command: '${hook}'\n    timeout: 2m\n`,
    );
    const deployed = await mup(deployArgs("cut", topo, await testMirror(), ["--auto-approve"]), {
      home,
    });
    assert.equal(deployed.code, 0, output(deployed));
    await Deno.writeTextFile(gate, "");
    const child = spawnMup(["cluster", "restart", "cut", "--auto-approve", "--json"], home);
    const until = Date.now() + deadline(60_000);
    await untilFile(marker, 60_000, "the stop's hook never ran");
    // A server that does not answer its shutdown holds the stop while it runs.
    frozen = Number((await Deno.readTextFile(pidFile)).trim());
    Deno.kill(frozen, "SIGSTOP");
    await Deno.remove(gate);
    const store = new StateStore(clusterDir(home, "cut"));
    await untilApplied(
      store,
      until,
      "the stop never began",
      (st) => opExecuting(st?.operation_states[`stop-mongod-localhost-${port}`]),
    );
    const { doc, stdout } = await cutTwiceJson(child);
    assert.equal(doc.left_down, undefined, stdout);
    assert.deepEqual(doc.stop_cut_off, [`localhost:${port}`], stdout);
    assert.ok(
      String(doc.hint).includes(
        `Stop cut off: localhost:${port} (this restart was stopping it: it may be down now or ` +
          "still stopping; the resume finishes the stop and starts it)",
      ),
      doc.hint,
    );
    Deno.kill(frozen, "SIGCONT");
    const resumed = await mup(["plan", "resume", "cut"], { home });
    assert.equal(resumed.code, 0, output(resumed));
    assert.equal(portFree(port), false, "the resume started it");
  } finally {
    if (frozen) {
      try {
        Deno.kill(frozen, "SIGCONT");
      } catch {
        // Gone already.
      }
    }
    await killAll(home);
  }
});

Deno.test("a second Ctrl-C during a restart, after its stop and before its start: mup names the member it leaves down (and --json lists it in left_down); during the start itself, the start it cut off (start_cut_off), not a member down; the resume starts or checks it", async () => {
  const home = await tempHome();
  const [port] = freePorts(1);
  const gate = path.join(home, "gate");
  const marker = path.join(home, "start-hook-running");
  try {
    // With the gate file, the hook before the start waits (until the second Ctrl-C ends it).
    const hook = `test "$MUP_OPERATION_TYPE" != start_process || test ! -f ${gate} || ` +
      `{ touch ${marker}; sleep 60; }`;
    const topo = await writeTopology(
      home,
      "down.yaml",
      standaloneTopology([port]) +
        `hooks:\n  before_operation:\n    command: '${hook}'\n    timeout: 2m\n`,
    );
    const deployed = await mup(deployArgs("down", topo, await testMirror(), ["--auto-approve"]), {
      home,
    });
    assert.equal(deployed.code, 0, output(deployed));
    await Deno.writeTextFile(gate, "");
    for (const json of [false, true]) {
      await Deno.remove(marker).catch(() => {});
      const child = spawnMup(
        json
          ? ["plan", "resume", "down", "--json"]
          : ["cluster", "restart", "down", "--auto-approve"],
        home,
      );
      await untilFile(marker, 60_000, "the start's hook never ran");
      const { err, stderr } = await pressCtrlCTwice(child);
      let rest = "";
      for (let r = await stderr.read(); !r.done; r = await stderr.read()) rest += r.value;
      const stdout = await new Response(child.stdout).text();
      const status = await child.status;
      const said = `${stdout}\n${err}${rest}`;
      assert.equal(status.code, 130, said);
      assert.ok(portFree(port), "the member is down: its start did not run");
      const down = `Down now: localhost:${port} (this restart stopped it; its start has not ` +
        "run; the resume starts it)";
      if (!json) {
        assert.ok(rest.includes(down), said);
        continue;
      }
      // The resume (the stop is done: it goes on at the start) is stopped likewise.
      const doc = JSON.parse(stdout.trim().split("\n").at(-1)!);
      assert.equal(doc.type, "error", said);
      assert.deepEqual(doc.left_down, [`localhost:${port}`]);
      assert.ok(String(doc.hint).includes(down), said);
    }
    await Deno.remove(gate);
    const resumed = await mup(["plan", "resume", "down"], { home });
    assert.equal(resumed.code, 0, output(resumed));
    assert.equal(portFree(port), false, "the resume started it");

    // The second Ctrl-C while the start itself runs (a slow server): the server may still come
    // up by itself, so it is not called down; the resume checks it.
    const store = new StateStore(clusterDir(home, "down"));
    const child = spawnMup(["cluster", "restart", "down", "--auto-approve", "--json"], home, {
      MUP_SIM_STARTUP_DELAY_MS: "4000",
    });
    const until = Date.now() + deadline(60_000);
    // Its work begun (executions), not only recorded running: before that (its hook, its
    // safety checks) a second Ctrl-C leaves the member down, not its start cut off (ci-109).
    await untilApplied(
      store,
      until,
      "the start never began",
      (st) => opExecuting(st?.operation_states[`start-mongod-localhost-${port}`]),
    );
    const { doc, stdout } = await cutTwiceJson(child);
    assert.equal(doc.left_down, undefined, stdout);
    assert.deepEqual(doc.start_cut_off, [`localhost:${port}`]);
    assert.match(
      doc.hint,
      /Start cut off: localhost:\d+ \(this restart stopped it and was starting it/,
    );
    const again = await mup(["plan", "resume", "down"], { home });
    assert.equal(again.code, 0, output(again));
    assert.equal(portFree(port), false, "running after the resume");
  } finally {
    await killAll(home);
  }
});
