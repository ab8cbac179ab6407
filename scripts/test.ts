/**
 * `deno task test [paths…] [deno test flags…]`: the test suite, several test files at a time.
 *
 * Most of a test's time is spent waiting on servers (elections, restarts, refusals), not on the
 * CPU, so the files run 4 at a time by default (`DENO_JOBS` overrides), not one per core as
 * `deno test --parallel` would on its own. Without paths: tests/ and lib/ (unit tests).
 *
 * The run gets a TMPDIR of its own (a caller's TMPDIR other than /tmp is used as given). Each
 * test stops what it started; when the run itself is cut short (Ctrl-C, SIGTERM from a CI
 * timeout) no test's teardown runs, so afterwards every process still carrying the run's TMPDIR
 * (the simulated servers daemonize, as mongod does) is killed and named, and the TMPDIR goes.
 */
import { sweepRun } from "./_pids.ts";

const jobs = Deno.env.get("DENO_JOBS") ?? "4";
const args = [...Deno.args];
if (!args.some((a) => !a.startsWith("-"))) args.push("tests/", "lib/");

const given = Deno.env.get("TMPDIR");
const own = !given || given.replace(/\/+$/, "") === "/tmp";
const tmp = own ? await shortTmp() : given;

/**
 * `/tmp/mt<4 characters>`, made here: short, because the suite nests temp paths several times in
 * one path (the shell-metacharacter test) and the simulator's SQLite refuses paths over 512
 * bytes (a 16-character name made that test fail).
 */
async function shortTmp(): Promise<string> {
  for (;;) {
    const dir = `/tmp/mt${Math.random().toString(36).slice(2, 6)}`;
    try {
      await Deno.mkdir(dir, { mode: 0o700 });
      return dir;
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    }
  }
}

const child = new Deno.Command(Deno.execPath(), {
  args: ["test", "-A", "--no-check", "--parallel", ...args],
  env: { DENO_JOBS: jobs, TMPDIR: tmp },
}).spawn();
// Ctrl-C reaches deno test too (same process group): wait for it to end. SIGTERM (a CI timeout,
// `kill`) reaches only this process: pass it on.
Deno.addSignalListener("SIGINT", () => {});
Deno.addSignalListener("SIGTERM", () => {
  try {
    child.kill("SIGTERM");
  } catch {
    // Already gone.
  }
});
const { code } = await child.status;
const left = await sweepRun(tmp);
if (left.length) {
  console.error(
    `\n${left.length} process(es) of this run were still running and were killed:\n` +
      left.map((p) => `  ${p.pid} ${p.args.slice(0, 160)}`).join("\n"),
  );
}
if (own) await Deno.remove(tmp, { recursive: true }).catch(() => {});
Deno.exit(code);
