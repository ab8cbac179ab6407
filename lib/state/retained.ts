/**
 * Clusters destroyed with `--retain-data`. Their archive (`<storage>/archive/<name>-<plan-id>`,
 * lib/state/archive_name.ts archiveDir) holds the destroy's plan, which says the data was kept
 * (warning `data_kept`) and, through its topology, where. `cluster list` shows them, so that
 * data left on the hosts is not forgotten. Reads only.
 */
import * as path from "node:path";
import { parseArchiveName } from "./archive_name.ts";
import { reachedLocally } from "../executor/factory.ts";
import { parsePlanText } from "../plan/parse.ts";
import { listProcesses } from "../plan/processes.ts";
import { StateStore } from "./store.ts";

/** One destroyed cluster whose data directories were kept. */
export interface RetainedData {
  name: string;
  /** The destroy's plan ID, and its apply's state ID when the archive has it. */
  plan_id: string;
  state_id?: string;
  kind: string;
  version: string;
  variant: string;
  /** When the destroy was archived (ISO 8601). */
  destroyed_at: string;
  archive: string;
  /** The hosts holding them, and the kept data directories as host:path. */
  hosts: string[];
  data_dirs: string[];
}

/** A kept directory's `host:path` (data_dirs) as its host and its path (`::1:/d` too). */
export function splitHostDir(hostDir: string): { host: string; dir: string } {
  const i = hostDir.lastIndexOf(":/");
  return { host: hostDir.slice(0, i), dir: hostDir.slice(i + 1) };
}

/**
 * The newest destroy with `--retain-data` of each cluster name under `storageRoot`, newest
 * first, leaving out those whose data directories (the ones on this machine, all of them) are
 * gone. Unreadable archives are skipped.
 */
export async function retainedData(storageRoot: string): Promise<RetainedData[]> {
  const root = path.join(storageRoot, "archive");
  const found = new Map<string, RetainedData>();
  const entries = await Array.fromAsync(Deno.readDir(root)).catch(() => []);
  for (const e of entries) {
    const m = parseArchiveName(e.name);
    if (!e.isDirectory || !m) continue;
    const { cluster: name, planId } = m;
    const archive = path.join(root, e.name);
    const file = path.join(archive, "plans", `${planId}.json`);
    const plan = await Deno.readTextFile(file).then(
      (t) => parsePlanText(t, file).plan,
      () => undefined,
    );
    if (plan?.operation !== "destroy") continue;
    if (!plan.validation.warnings.some((w) => w.code === "data_kept")) continue;
    const procs = listProcesses(plan.topology, plan.deploy_dir).filter((p) => p.role !== "mongos");
    const left = [];
    for (const p of procs) {
      const here = reachedLocally(p.host);
      if (!here || await Deno.stat(p.dirs.data).then(() => true, () => false)) left.push(p);
    }
    if (!left.length) continue;
    const at = (await Deno.stat(archive)).mtime?.toISOString() ?? plan.created_at;
    const prev = found.get(name);
    if (prev && prev.destroyed_at >= at) continue;
    const stateId = await new StateStore(archive).currentId().catch(() => undefined);
    found.set(name, {
      name,
      plan_id: planId,
      ...(stateId ? { state_id: stateId } : {}),
      kind: plan.kind,
      version: plan.version,
      variant: plan.variant,
      destroyed_at: at,
      archive,
      hosts: [...new Set(left.map((p) => p.host))],
      data_dirs: left.map((p) => `${p.host}:${p.dirs.data}`),
    });
  }
  return [...found.values()].sort((a, b) => b.destroyed_at.localeCompare(a.destroyed_at));
}
