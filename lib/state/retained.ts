/**
 * Clusters destroyed with `--retain-data`, or whose earlier scale-in kept data (`--retain-data`,
 * the archived metadata's `retained_data`: a destroy leaves it). Their archive (`<storage>/archive/<name>-<plan-id>`,
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
import { readMeta } from "./meta.ts";

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
  /** Whether the destroy kept the cluster's data (else only what earlier scale-ins kept is). */
  destroy_kept: boolean;
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
    const codes = new Set(plan.validation.warnings.map((w) => w.code));
    if (!codes.has("data_kept") && !codes.has("scaled_in_data_kept")) continue;
    // The destroy's own (--retain-data), and what earlier scale-ins kept (the archived metadata).
    const dirs = [
      ...(codes.has("data_kept")
        ? listProcesses(plan.topology, plan.deploy_dir).filter((p) => p.role !== "mongos")
          .map((p) => ({ host: p.host, path: p.dirs.data }))
        : []),
      ...(codes.has("scaled_in_data_kept")
        ? (await readMeta(archive).catch(() => undefined))?.retained_data ?? []
        : []),
    ];
    const left = [];
    for (const d of dirs) {
      const here = reachedLocally(d.host);
      if (!here || await Deno.stat(d.path).then(() => true, () => false)) left.push(d);
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
      hosts: [...new Set(left.map((d) => d.host))],
      data_dirs: left.map((d) => `${d.host}:${d.path}`),
      destroy_kept: codes.has("data_kept"),
    });
  }
  return [...found.values()].sort((a, b) => b.destroyed_at.localeCompare(a.destroyed_at));
}
