/**
 * A hook running when mup is stopped at once (a second Ctrl-C) ends with mup: its process group
 * (the hook's `sh` and what it started) is killed, never left running as an orphan. One a mup
 * killed with SIGKILL left running is stopped by the next apply before it runs the hook again.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import {
  deployArgs,
  freePorts,
  killAll,
  mup,
  output,
  replicaSetTopology,
  spawnMup,
  standaloneTopology,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { deadline, installFixture } from "./fixture.ts";
import { deploy, livePids, stablePorts } from "./lifecycle_helpers.ts";
import { SAME_PRESS_MS } from "../lib/cli/prompt.ts";

installFixture();

/** Whether a process of process group `pgid` is alive (a killed one not yet reaped is not). */
async function groupAlive(pgid: number, waitMs = 0): Promise<boolean> {
  const until = Date.now() + waitMs;
  while (true) {
    const r = await new Deno.Command("ps", {
      args: ["-o", "stat=", "-g", String(pgid)],
      stdout: "piped",
    }).output();
    const live = new TextDecoder().decode(r.stdout).split("\n").some((s) => /^[^Z\s]/.test(s));
    if (!live || Date.now() > until) return live;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Starts the deploy of a standalone on `port` whose `prepare` phase ends with an after_phase
 * hook running `command` (which writes its `$$` to `pidFile`) and waits until the hook has: the
 * mup, and the hook's process group.
 */
async function deployUntilHook(
  home: string,
  port: number,
  command: string,
  pidFile: string,
  timeout?: string,
): Promise<{ child: Deno.ChildProcess; pgid: number }> {
  const topo = await writeTopology(
    home,
    "hk.yaml",
    standaloneTopology([port]) +
      `hooks:\n  after_phase:\n    command: ${JSON.stringify(command)}\n    phase: prepare\n` +
      (timeout ? `    timeout: ${timeout}\n` : ""),
  );
  const child = spawnMup(deployArgs("hk", topo, await testMirror(), ["--auto-approve"]), home);
  const until = Date.now() + deadline(60_000);
  for (;;) {
    const pgid = Number(await Deno.readTextFile(pidFile).catch(() => "")) || undefined;
    if (pgid) return { child, pgid };
    if (Date.now() > until) throw new Error("the hook never ran");
    await new Promise((r) => setTimeout(r, 50));
  }
}

Deno.test("a second Ctrl-C while an after_phase hook runs: mup exits at once and the hook's process group is killed with it", async () => {
  const home = await tempHome();
  const [port] = freePorts(1);
  const pidFile = path.join(home, "hook.pid");
  let pgid: number | undefined;
  try {
    // The hook's sh records its pid (its group's id), then waits on a child of its group.
    let child: Deno.ChildProcess;
    ({ child, pgid } = await deployUntilHook(
      home,
      port,
      `echo $$ > '${pidFile}'; sleep 43`,
      pidFile,
    ));
    assert.ok(await groupAlive(pgid), "the hook runs");
    // The first Ctrl-C lets the hook finish, up to its timeout: mup says what it waits for.
    child.kill("SIGINT");
    const stderr = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let err = "";
    while (!err.includes("stops it now.")) {
      const { value, done } = await stderr.read();
      if (done) break;
      err += value;
    }
    assert.match(
      err,
      /Waiting for hook after_phase \[prepare\] to end \(its timeout ends it in (4m \d+s|5m)\); Ctrl-C again stops it now\./,
    );
    await new Promise((r) => setTimeout(r, SAME_PRESS_MS + 100));
    child.kill("SIGINT");
    const status = await child.status;
    await stderr.cancel().catch(() => {});
    await child.stdout.cancel().catch(() => {});
    assert.equal(status.code, 130, err);
    assert.equal(await groupAlive(pgid, 2000), false, "the hook's sh and its sleep are gone");
  } finally {
    if (pgid) await new Deno.Command("pkill", { args: ["-9", "-g", String(pgid)] }).output();
    await killAll(home);
  }
});

Deno.test("the first Ctrl-C while a hook runs that then runs out of its time: the apply is paused (exit 130), not failed; plan resume runs the hook again and completes (tester46)", async () => {
  const home = await tempHome();
  const [port] = freePorts(1);
  const pidFile = path.join(home, "hook.pid");
  const once = path.join(home, "hook.once");
  let pgid: number | undefined;
  try {
    let child: Deno.ChildProcess;
    // Hangs the first time only.
    ({ child, pgid } = await deployUntilHook(
      home,
      port,
      `[ -e '${once}' ] && exit 0; touch '${once}'; echo $$ > '${pidFile}'; sleep 43`,
      pidFile,
      "6s",
    ));
    child.kill("SIGINT");
    const out = await child.output();
    const said = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 130, said);
    assert.match(said, /Hook after_phase timed out; its process group was killed/);
    assert.match(said, /Apply paused \(interrupted\) during phase 1 \(prepare\)/);
    assert.equal(await groupAlive(pgid, 2000), false, "the hook's group is gone");
    const state = JSON.parse((await mup(["state", "show", "hk", "--json"], { home })).stdout);
    assert.equal(state.status, "paused", JSON.stringify(state));
    const resumed = await mup(["plan", "resume", "hk", "--auto-approve"], { home });
    assert.equal(resumed.code, 0, output(resumed));
    assert.match(
      resumed.stdout,
      /↪ Hook after_phase \(prepare\)/,
      "the resume runs the hook again",
    );
  } finally {
    if (pgid) await new Deno.Command("pkill", { args: ["-9", "-g", String(pgid)] }).output();
    await killAll(home);
  }
});

Deno.test("what a hook leaves running in the background ends with it: the apply goes on, and nothing of its group stays (tester46)", async () => {
  const home = await tempHome();
  const [port] = freePorts(1);
  const bgPid = path.join(home, "bg.pid");
  try {
    const topo = await writeTopology(
      home,
      "bg.yaml",
      standaloneTopology([port]) +
        `hooks:\n  before_apply:\n    command: ${
          JSON.stringify(`sleep 1003 & echo $! > '${bgPid}'; echo started-bg`)
        }\n`,
    );
    const r = await mup(deployArgs("bg", topo, await testMirror(), ["--auto-approve"]), { home });
    assert.equal(r.code, 0, output(r));
    assert.match(r.stdout, /started-bg/);
    const pid = Number(await Deno.readTextFile(bgPid));
    assert.ok(pid > 0);
    // Its group is the hook's: gone once the hook's sh has exited.
    assert.equal(
      await groupAlive(pid, 0) || processAlive(pid),
      false,
      "the background sleep is gone",
    );
  } finally {
    await killAll(home);
  }
});

/** Whether process `pid` runs (not a zombie). */
function processAlive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !/^\S+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

Deno.test("kill -9 of mup while a hook runs: the resume waits for the hook it left running to end before it goes on, saying so, and does not run it a second time (tester38 M2)", async () => {
  const home = await tempHome();
  const [port] = freePorts(1);
  const pidFile = path.join(home, "hook.pid");
  const runs = path.join(home, "runs");
  const go = path.join(home, "go");
  let pgid: number | undefined;
  try {
    // The hook records its group, then works until the test lets it end.
    let child: Deno.ChildProcess;
    ({ child, pgid } = await deployUntilHook(
      home,
      port,
      `echo run >> '${runs}'; echo $$ > '${pidFile}'; ` +
        `while [ ! -f '${go}' ]; do sleep 0.1; done; echo end >> '${runs}'`,
      pidFile,
    ));
    child.kill("SIGKILL");
    await child.status;
    await child.stdout.cancel().catch(() => {});
    await child.stderr.cancel().catch(() => {});
    assert.ok(await groupAlive(pgid), "the hook outlives the mup killed with SIGKILL");
    // The resume says it waits for that hook, and does: let it end only then.
    const resume = spawnMup(["plan", "resume", "hk", "--auto-approve"], home);
    const reader = resume.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    while (!out.replace(/\s+/g, " ").includes("waiting for it to end")) {
      const { value, done } = await reader.read();
      if (done) break;
      out += value;
    }
    const waiting = out.replace(/\s+/g, " ");
    assert.ok(
      waiting.includes(
        `Hook after_phase [prepare]: echo run >> '${runs}'; echo $$ > '${pidFile}'; ` +
          `while [ ! -f '${go}' ]; do sleep 0.1; done; echo end >> '${runs}' is still running, ` +
          "left by the mup that was killed during apply ",
      ) && waiting.includes(`(process group ${pgid}): waiting for it to end`),
      out,
    );
    assert.doesNotMatch(out, /Phase 2\//, "nothing goes on while it runs");
    await Deno.writeTextFile(go, "");
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      out += value;
    }
    const { code } = await resume.status;
    const stderr = await new Response(resume.stderr).text();
    assert.equal(code, 0, out + stderr);
    const said = out.replace(/\s+/g, " ");
    assert.ok(said.includes("Hook after_phase [prepare] left running has ended"), out);
    assert.ok(said.indexOf("left running has ended") < said.indexOf("Phase 2/"), out);
    assert.equal(await groupAlive(pgid), false);
    // Run once: its phase was already complete, so the resume does not run it again.
    assert.deepEqual((await Deno.readTextFile(runs)).trim().split("\n"), ["run", "end"]);
  } finally {
    if (pgid) await new Deno.Command("pkill", { args: ["-9", "-g", String(pgid)] }).output();
    await killAll(home);
  }
});

Deno.test("the first Ctrl-C while a stop's before_operation hook runs: the stop does not go ahead (it had not begun); the apply pauses with every member running, and the resume restarts them (tester47)", async () => {
  const home = await tempHome();
  const ports = stablePorts(3);
  const seen = path.join(home, "stop-op");
  const hook = "hooks:\n  before_operation:\n    command: " +
    JSON.stringify(
      `case "$MUP_OPERATION_TYPE" in stop_process) echo "$MUP_OPERATION_ID" > '${seen}'; ` +
        "sleep 3;; esac",
    ) + "\n    timeout: 1m\n";
  try {
    await deploy(home, "rs", replicaSetTopology(ports, hook));
    const before = (await livePids(home, "rs")).sort();
    const child = spawnMup(["cluster", "restart", "rs", "--auto-approve"], home);
    const until = Date.now() + deadline(60_000);
    let op = "";
    while (!op) {
      op = (await Deno.readTextFile(seen).catch(() => "")).trim();
      if (Date.now() > until) throw new Error("no stop's hook ran");
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill("SIGINT");
    const out = await child.output();
    const said = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 130, said);
    assert.doesNotMatch(said, /✓ Stop/, "no member was stopped");
    assert.deepEqual((await livePids(home, "rs")).sort(), before, "every member runs as before");
    const state = JSON.parse((await mup(["state", "show", "rs", "--json"], { home })).stdout);
    assert.equal(state.status, "paused");
    assert.equal(state.operation_states[op].status, "pending", op);
    const resumed = await mup(["plan", "resume", "rs", "--auto-approve"], { home });
    assert.equal(resumed.code, 0, output(resumed));
    const after = await livePids(home, "rs");
    assert.equal(after.filter((p) => before.includes(p)).length, 0, "each member restarted");
  } finally {
    await killAll(home);
  }
});
