import * as path from "node:path";

const ROOT = path.resolve(import.meta.dirname!, "..");

/**
 * The V8 flags mup runs with: the compiled binary embeds them (scripts/compile.ts), and the
 * `mup` task and main.ts's shebang repeat them. A 2 MB young-generation semi-space keeps the
 * garbage of planning large clusters from growing the heap: planning and validating 3,000
 * processes in one process peaks at 173–175 MB (4 MB: 179–195 MB; 8 MB: 210–227 MB), no slower
 * (`deno task bench plan`), and the scheduler benchmark is unchanged.
 */
export const V8_FLAGS = "--max-semi-space-size=2";

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
