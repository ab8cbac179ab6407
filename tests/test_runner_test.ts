/**
 * `deno task test` (scripts/test.ts) leaves nothing behind even when the run itself is cut
 * short: a SIGTERM (a CI timeout) or a Ctrl-C to the whole terminal group ends the run, and
 * every process the run started, a daemonized one included (the simulated servers fork into a
 * session of their own, as mongod does), is killed and named.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { alive } from "../scripts/_pids.ts";
import { installFixture, trackDir } from "./fixture.ts";
import { sweptByRunner } from "../scripts/repeat_tests.ts";

installFixture();

const ROOT = path.resolve(import.meta.dirname!, "..");

/**
 * A test that starts a daemon (own session, like `mongod --fork`), records its pid once it runs
 * `sleep` (on a loaded machine setsid may take a while to exec it, and a sweep before that
 * would name it `setsid sleep 300`), and hangs.
 */
const HANGING = `
Deno.test("hangs with a daemon running", async () => {
  const c = new Deno.Command("setsid", { args: ["sleep", "300"], stdin: "null" }).spawn();
  while (!Deno.readTextFileSync(\`/proc/\${c.pid}/cmdline\`).startsWith("sleep\\0")) {
    await new Promise((r) => setTimeout(r, 10));
  }
  await Deno.writeTextFile(Deno.env.get("HANG_PID_FILE")!, String(c.pid));
  await new Promise((r) => setTimeout(r, 300_000));
});
`;

/**
 * Runs scripts/test.ts on the hanging test in a session of its own, with its own TMPDIR; once
 * the daemon runs, `interrupt(runnerPid)`; returns the runner's stderr and the daemon's pid.
 */
async function cutShort(
  interrupt: (pid: number) => Promise<void>,
): Promise<{ stderr: string; daemon: number; code: number }> {
  const dir = trackDir(await Deno.makeTempDir({ prefix: "runner-" }));
  const file = path.join(dir, "hang_test.ts");
  await Deno.writeTextFile(file, HANGING);
  const pidFile = path.join(dir, "daemon.pid");
  const runTmp = path.join(dir, "tmp");
  await Deno.mkdir(runTmp);
  const runner = new Deno.Command("setsid", {
    args: [Deno.execPath(), "run", "-A", "--quiet", path.join(ROOT, "scripts", "test.ts"), file],
    cwd: ROOT,
    env: { TMPDIR: runTmp, HANG_PID_FILE: pidFile, NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out = Promise.all([
    new Response(runner.stdout).text(),
    new Response(runner.stderr).text(),
  ]);
  let daemon = 0;
  for (const end = Date.now() + 60_000; !daemon && Date.now() < end;) {
    daemon = Number(await Deno.readTextFile(pidFile).catch(() => "0"));
    if (!daemon) await new Promise((r) => setTimeout(r, 50));
  }
  try {
    assert.ok(daemon && alive(daemon), "the hanging test started its daemon");
    await interrupt(runner.pid);
    const { code } = await runner.status;
    const [, stderr] = await out;
    return { stderr, daemon, code };
  } finally {
    for (const pid of [runner.pid, daemon]) {
      try {
        if (pid && alive(pid)) Deno.kill(pid, "SIGKILL");
      } catch {
        // Gone.
      }
    }
  }
}

function assertSwept(r: { stderr: string; daemon: number; code: number }): void {
  assert.notEqual(r.code, 0, r.stderr);
  assert.equal(alive(r.daemon), false, `the daemon ${r.daemon} still runs:\n${r.stderr}`);
  assert.match(
    r.stderr,
    new RegExp(
      `process\\(es\\) of this run were still running and were killed:\\n(.*\\n)*  ${r.daemon} sleep 300`,
    ),
    r.stderr,
  );
  // `deno task repeat-tests` reads the same lines to count what a run left.
  assert.ok(sweptByRunner(r.stderr).some((p) => p.pid === r.daemon), r.stderr);
}

Deno.test("a test run ended by SIGTERM kills what its tests left running, a daemon included, and names it", async () => {
  assertSwept(await cutShort((pid) => Promise.resolve(Deno.kill(pid, "SIGTERM"))));
});

Deno.test("a test run ended by Ctrl-C (SIGINT to its process group) kills what its tests left running", async () => {
  assertSwept(
    await cutShort(async (pid) => {
      // The runner leads its session and group (setsid): the terminal's Ctrl-C reaches all of it.
      const k = await new Deno.Command("kill", { args: ["-INT", "--", `-${pid}`] }).output();
      assert.equal(k.code, 0, new TextDecoder().decode(k.stderr));
    }),
  );
});
