import type { Topology } from "./schema.ts";

/**
 * The `ssh_port` of each host `before` gives one that `after` no longer lists, by host name: a
 * plan whose topology is the cluster it leaves (a scale-in, the rollback of a scale-out) still
 * reaches those hosts to stop and remove what goes, and only the plan can tell its apply how
 * (Plan `ssh_ports`). Pure.
 */
export function droppedHostPorts(before: Topology, after: Topology): Record<string, number> {
  const entries = (t: Topology) => [...t.config_servers, ...t.mongod_servers, ...t.mongos_servers];
  const kept = new Set(entries(after).map((e) => e.host));
  const out: Record<string, number> = {};
  for (const e of entries(before)) {
    if (!kept.has(e.host) && e.ssh_port !== undefined) out[e.host] = e.ssh_port;
  }
  return out;
}
