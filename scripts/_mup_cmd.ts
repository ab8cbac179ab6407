import * as path from "node:path";

const ROOT = path.resolve(import.meta.dirname!, "..");

/**
 * The V8 flags mup runs with: the compiled binary embeds them (scripts/compile.ts), and the
 * `mup` task and main.ts's shebang repeat them. A 4 MB young-generation semi-space keeps the
 * garbage of planning large clusters from growing the heap: planning and validating 3,000
 * processes peaks at about 215 MB instead of 285 MB, no slower (`deno task bench plan`).
 */
export const V8_FLAGS = "--max-semi-space-size=4";

/** `deno run` arguments that start mup from source the way the compiled binary runs. */
export function mupRunArgs(args: string[]): string[] {
  return [
    "run",
    "-A",
    "--quiet",
    `--v8-flags=${V8_FLAGS}`,
    `--config=${path.join(ROOT, "deno.json")}`,
    path.join(ROOT, "main.ts"),
    ...args,
  ];
}
