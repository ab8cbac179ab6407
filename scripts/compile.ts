/**
 * `deno task compile`: builds the single `mup` binary (the simulator included, behind the hidden
 * `__simulator` subcommand). deno compile needs its runtime (denort): from DENORT_BIN if set,
 * else downloaded from dl.deno.land. Where that download is impossible the build is reported
 * as SKIPPED with the reason; any other failure fails the task.
 */
import { V8_FLAGS } from "./_mup_cmd.ts";

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
const r = await new Deno.Command(Deno.execPath(), { args, stdout: "inherit", stderr: "piped" })
  .output();
const err = new TextDecoder().decode(r.stderr);
if (r.code === 0) {
  const v = await new Deno.Command(out, { args: ["--version"], stdout: "piped" }).output();
  console.log(`built ${out} (mup ${new TextDecoder().decode(v.stdout).trim()})`);
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
  Deno.exit(0);
}
console.error(err);
Deno.exit(r.code);
