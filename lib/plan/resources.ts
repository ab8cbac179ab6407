import { executorKey } from "../executor/factory.ts";
import type { ProcessSpec } from "./processes.ts";
import type { Release, ResourceEstimate } from "./schema.ts";

/** Rough disk need of one data-bearing process right after deployment (journal, oplog, files). */
const DATA_GB_PER_MONGOD = 1;

export function estimateResources(procs: ProcessSpec[], release: Release): ResourceEstimate {
  const perHost: Record<string, number> = {};
  const byRole: Record<string, number> = {};
  // Per host as mup reaches it, under the first name the topology gives it: localhost and
  // 127.0.0.1 are one; each SSH host is its own (127.0.0.2 and 127.0.0.3 too), as pre-flight
  // and the apply's connectivity check count them.
  const nameOf = new Map<string, string>();
  for (const p of procs) {
    const key = executorKey(p.host);
    if (!nameOf.has(key)) nameOf.set(key, p.host);
    const name = nameOf.get(key)!;
    perHost[name] = (perHost[name] ?? 0) + 1;
    byRole[p.role] = (byRole[p.role] ?? 0) + 1;
  }
  const hosts = Object.keys(perHost).length;
  const dataProcs = procs.filter((p) => p.role !== "mongos").length;
  const binGb = (release.size_bytes * 3) / 1e9; // unpacked size is about three times the archive
  return {
    hosts,
    total_processes: procs.length,
    processes_by_role: byRole,
    ports_used: [...new Set(procs.map((p) => p.port))].sort((a, b) => a - b),
    disk_space_gb: Math.round((dataProcs * DATA_GB_PER_MONGOD + hosts * binGb) * 100) / 100,
    download_size_mb: Math.ceil(release.size_bytes / 1e6),
    processes_per_host: perHost,
  };
}
