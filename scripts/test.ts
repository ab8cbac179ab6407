/**
 * `deno task test [paths…] [deno test flags…]`: the test suite, several test files at a time.
 *
 * Most of a test's time is spent waiting on servers (elections, restarts, refusals), not on the
 * CPU, so the files run 4 at a time by default (`DENO_JOBS` overrides), not one per core as
 * `deno test --parallel` would on its own. Without paths: tests/ and lib/ (unit tests).
 */
const jobs = Deno.env.get("DENO_JOBS") ?? "4";
const args = [...Deno.args];
if (!args.some((a) => !a.startsWith("-"))) args.push("tests/", "lib/");
const child = new Deno.Command(Deno.execPath(), {
  args: ["test", "-A", "--no-check", "--parallel", ...args],
  env: { DENO_JOBS: jobs },
}).spawn();
// Ctrl-C reaches deno test too (same process group); wait for it to finish its cleanup.
Deno.addSignalListener("SIGINT", () => {});
Deno.exit((await child.status).code);
