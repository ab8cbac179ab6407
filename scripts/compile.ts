/**
 * `deno task compile`: builds the single `mup` binary (the simulator included, behind the hidden
 * `__simulator` subcommand), then proves the result is mup: `mup --version` must print mup's
 * version and `mup plan validate` must accept the shipped example plan
 * (examples/plans/sharded.json).
 *
 * deno compile needs its runtime (denort): from DENORT_BIN if set, else downloaded from
 * dl.deno.land. Exit codes: 0 built and checked; 3 SKIPPED because the runtime cannot be
 * downloaded here (no binary was built; the reason is printed); 1 anything else, with the reason
 * (the build failed, or what was built is not mup).
 */
import * as path from "node:path";
import { V8_FLAGS } from "./_mup_cmd.ts";
import { EXAMPLE_PLAN } from "./example_plan.ts";
import { MUP_VERSION } from "../lib/plan/planner.ts";

/** Exit code of a build skipped because denort cannot be downloaded here (tolerated by .ci/run). */
export const EXIT_SKIPPED = 3;

const dec = new TextDecoder();

async function run(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  try {
    const r = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
    return { code: r.code, out: (dec.decode(r.stdout) + dec.decode(r.stderr)).trim() };
  } catch (e) {
    return { code: -1, out: (e as Error).message };
  }
}

/** Why `bin` is not a working mup, or undefined when it is. */
export async function notMup(bin: string): Promise<string | undefined> {
  const v = await run(bin, ["--version"]);
  if (v.code !== 0 || v.out !== MUP_VERSION) {
    return `\`${bin} --version\` printed ${
      JSON.stringify(v.out.split("\n")[0] ?? "")
    } (exit ${v.code}), not mup's version ${MUP_VERSION}`;
  }
  const p = await run(bin, ["plan", "validate", EXAMPLE_PLAN]);
  if (p.code !== 0 || !/plan is valid/.test(p.out)) {
    return `\`${bin} plan validate ${EXAMPLE_PLAN}\` failed (exit ${p.code}): ${
      p.out.split("\n").slice(-3).join(" / ")
    } (if the plan format changed, regenerate it: deno run -A scripts/example_plan.ts)`;
  }
  return undefined;
}

if (import.meta.main) {
  const out = Deno.args[0] ?? "dist/mup";
  const args = [
    "compile",
    "-A",
    `--v8-flags=${V8_FLAGS}`,
    "--include",
    "sim/main.ts",
    "--output",
    out,
    "main.ts",
  ];
  console.log(
    `$ deno ${args.join(" ")}${
      Deno.env.get("DENORT_BIN") ? ` (DENORT_BIN=${Deno.env.get("DENORT_BIN")})` : ""
    }`,
  );
  // deno compile makes the output's directory before it fetches its runtime: one it made for
  // a binary it could not build is removed again (only if empty: nothing of the user's goes).
  const dir = path.dirname(out);
  const hadDir = await Deno.stat(dir).then(() => true, () => false);
  const r = await new Deno.Command(Deno.execPath(), { args, stdout: "inherit", stderr: "piped" })
    .output();
  const err = dec.decode(r.stderr);
  if (r.code !== 0 && !hadDir) await Deno.remove(dir).catch(() => {});
  if (r.code === 0) {
    const problem = await notMup(out);
    if (problem) {
      console.error(`FAILED: ${out} was built but is not mup: ${problem}.`);
      console.error("  Is DENORT_BIN a denort runtime (not a plain deno)?");
      Deno.exit(1);
    }
    console.log(`built ${out}: mup ${MUP_VERSION}; it validates ${EXAMPLE_PLAN}`);
    Deno.exit(0);
  }
  if (/denort|dl\.deno\.land/.test(err) && /dns error|error sending request|Connect/.test(err)) {
    console.log("SKIPPED: deno compile could not fetch its runtime (denort) from dl.deno.land:");
    console.log(
      "  " +
        (err.split("\n").find((l) => /error sending request/.test(l))?.trim() ??
          err.trim().split("\n").pop()),
    );
    console.log(
      "  No binary was built. With network access, or with DENORT_BIN pointing at a denort binary, this task builds it.",
    );
    Deno.exit(EXIT_SKIPPED);
  }
  console.error(err.trim());
  console.error(`FAILED: deno compile exited with ${r.code}; no binary was built.`);
  Deno.exit(1);
}
