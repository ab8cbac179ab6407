/** The demo's own temporary MUP_HOMEs, for `deno task demo --stop` run without MUP_HOME. */
import * as path from "node:path";
import { readMeta } from "../lib/state/meta.ts";
import { unfinishedApply } from "../lib/state/undeployed.ts";

/** The prefix of the MUP_HOME a demo makes in the temp directory when none is given. */
export const HOME_PREFIX = "mup-demo-";

/** Where Deno.makeTempDir makes directories: $TMPDIR, else /tmp. */
export function tempRoot(): string {
  return Deno.env.get("TMPDIR") || "/tmp";
}

/**
 * The demo homes in the temp directory whose demo cluster there is something to stop in: one
 * recorded as not stopped, or a first deploy that did not finish. Reads only.
 */
export async function demoHomes(): Promise<string[]> {
  const out: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(tempRoot()));
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!e.isDirectory || !e.name.startsWith(HOME_PREFIX)) continue;
    const home = path.join(tempRoot(), e.name);
    const dir = path.join(home, "storage", "clusters", "demo");
    const meta = await readMeta(dir).catch(() => undefined);
    const toStop = meta
      ? meta.status !== "stopped"
      : await unfinishedApply(dir).then((u) => !!u, () => false);
    if (toStop) out.push(home);
  }
  return out.sort();
}
