/**
 * The durations measured in the store's clusters' histories, read before planning: the
 * planners' estimates come from them (lib/plan/estimates.ts applies them, purely).
 */
import type { PlanStore } from "../plan/store.ts";
import { CONTROL_HOST, type MeasuredDurations } from "../plan/estimates.ts";
import type { OperationType } from "../plan/schema.ts";
import type { Topology } from "../topology/schema.ts";
import { hostKey } from "../topology/hosts.ts";
import { readHistory } from "../state/history.ts";
import * as path from "node:path";
import { listDir } from "../plan/plan_files.ts";
import { parseArchiveName } from "../state/archive_name.ts";

/**
 * Recent durations recorded on the topology's hosts (and the control machine) in the history of
 * this cluster, of the other clusters in the store and of those destroyed (their archives): a
 * first deploy on known hosts is then estimated from what was measured there.
 */
export async function measuredDurations(
  store: PlanStore,
  cluster: string,
  topology: Topology,
): Promise<MeasuredDurations> {
  const hosts = new Set([
    CONTROL_HOST,
    ...[...topology.config_servers, ...topology.mongod_servers, ...topology.mongos_servers]
      .map((s) => hostKey(s.host)),
  ]);
  const out: MeasuredDurations = { samples: {}, applies: 0, clusters: [] };
  const names = await store.clusters();
  // Destroyed clusters' archives keep their histories: measured on the same hosts too.
  const archived = (await listDir(path.join(store.root, "archive"))).map((d) => ({
    name: parseArchiveName(d)?.cluster ?? d,
    dir: path.join(store.root, "archive", d),
  }));
  const sources = [
    ...[cluster, ...names.filter((n) => n !== cluster)].map((name) => ({
      name,
      dir: store.clusterDir(name),
    })),
    ...archived,
  ];
  for (const { name, dir } of sources) {
    const h = await readHistory(dir);
    if (!h) continue;
    let used = false;
    for (const [host, byType] of Object.entries(h.durations)) {
      if (!hosts.has(host)) continue;
      for (const [type, stats] of Object.entries(byType)) {
        if (stats?.in_place_ms?.length && type === "download_binary") {
          ((out.cachedDownloads ??= {})[host] ??= []).push(...stats.in_place_ms);
          used = true;
        }
        if (!stats?.recent_ms.length) continue;
        const into = out.samples[host] ??= {};
        (into[type as OperationType] ??= []).push(...stats.recent_ms);
        used = true;
      }
    }
    if (used) {
      out.applies += h.applies;
      if (!out.clusters.includes(name)) out.clusters.push(name);
    }
  }
  return out;
}
