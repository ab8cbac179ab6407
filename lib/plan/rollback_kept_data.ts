/**
 * What a rollback says of the effects it cannot undo that live in members' data: a replica set
 * it initiated (replSetInitiate cannot be undone on running members) and a user it created. Both
 * are gone with the data directories that hold them when the rollback removes those (tester41 L5,
 * L6). Pure.
 */
import { hostKey } from "../topology/hosts.ts";
import { listProcesses, type ProcessSpec } from "./processes.ts";
import type { Plan, PlannedOperation, ValidationIssue } from "./schema.ts";

/** An effect kept in the data of the processes `holds` selects, and its "not undone" warning. */
export interface KeptInData {
  holds: (p: ProcessSpec) => boolean;
  message: string;
}

/**
 * Where `o` (an init_replica_set or create_user the rollback cannot undo) keeps its effect: the
 * set's members; a standalone's own data; for a user created through mongos, the config
 * servers (MongoDB keeps a sharded cluster's users in the config servers' admin database).
 */
export function keptIn(o: PlannedOperation, message: string): KeptInData {
  const t = o.target;
  if (o.type === "create_user" && t.params.via === "mongos") {
    return { holds: (p) => p.role === "config", message };
  }
  if (o.type === "create_user" && t.params.via === "standalone") {
    return { holds: (p) => p.id === t.name, message };
  }
  return { holds: (p) => p.replicaSet === t.name, message };
}

/**
 * The warning of each effect in `kept` of which some holder's data directory stays: none of the
 * rollback's `ops` removes it (whatever is in it), or a directory it is in. `original` is the
 * plan rolled back (its topology and deploy root give the directories).
 */
export function stillInData(
  kept: KeptInData[],
  ops: PlannedOperation[],
  original: Pick<Plan, "topology" | "deploy_dir">,
): ValidationIssue[] {
  // Removed whatever is in them: a directory removed only if empty keeps a member's data.
  const removed = ops.filter((o) =>
    o.type === "remove_directory" && o.target.params.if_empty !== "true"
  ).map((o) => `${hostKey(o.target.host!)}:${o.target.params.path}`);
  const gone = (host: string, dir: string) => {
    const at = `${hostKey(host)}:${dir}`;
    return removed.some((r) => at === r || at.startsWith(`${r}/`));
  };
  const procs = listProcesses(original.topology, original.deploy_dir);
  return kept.filter((k) => {
    const holders = procs.filter(k.holds);
    return !holders.length || !holders.every((m) => gone(m.host, m.dirs.data));
  }).map((k) => ({ code: "irreversible", severity: "warning" as const, message: k.message }));
}
