/**
 * Writes examples/plans/sharded.json: the plan mup makes for examples/sharded.yaml (MongoDB 7.0,
 * from a simulator mirror), shipped so that a build can prove it is mup by validating it
 * (`deno task compile` runs `mup plan validate` on it). Run again when the plan format changes:
 * `deno run -A scripts/example_plan.ts`.
 */
import * as path from "node:path";
import { buildMirror } from "../sim/mirror.ts";
import { mupRunArgs } from "./_mup_cmd.ts";

const ROOT = path.resolve(import.meta.dirname!, "..");
export const EXAMPLE_PLAN = path.join(ROOT, "examples", "plans", "sharded.json");

if (import.meta.main) {
  // Fixed, readable paths: they are recorded in the plan.
  const base = "/tmp/mup-example";
  const home = path.join(base, "home");
  const mirror = path.join(base, "mirror");
  const topology = path.join(base, "sharded.yaml");
  try {
    await Deno.mkdir(base, { recursive: true });
    await Deno.copyFile(path.join(ROOT, "examples", "sharded.yaml"), topology);
    await buildMirror(mirror, { versions: ["7.0.14"] });
    await Deno.remove(EXAMPLE_PLAN).catch(() => {});
    const r = await new Deno.Command(Deno.execPath(), {
      args: mupRunArgs([
        "cluster",
        "deploy",
        "example",
        topology,
        "--version",
        "7.0",
        "--mirror",
        mirror,
        "--plan-file",
        EXAMPLE_PLAN,
      ]),
      env: { MUP_HOME: home, NO_COLOR: "1" },
    }).output();
    const out = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
    if (r.code !== 0 && r.code !== 2) {
      console.error(out);
      Deno.exit(1);
    }
    console.log(`wrote ${path.relative(ROOT, EXAMPLE_PLAN)}`);
  } finally {
    await Deno.remove(base, { recursive: true }).catch(() => {});
  }
}
