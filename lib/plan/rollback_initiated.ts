/**
 * What a rollback says of the replica sets the apply it undoes initiated: replSetInitiate cannot
 * be undone on running members, but a set whose members' data directories the rollback removes
 * is gone with them (tester41 L5). Pure.
 */
import { hostKey } from "../topology/hosts.ts";
import { listProcesses } from "./processes.ts";
import type { Plan, PlannedOperation, ValidationIssue } from "./schema.ts";

/**
 * The "not undone" warning of each set in `initiated` (its name, and the warning) of which some
 * member's data directory stays: none of the rollback's `ops` removes it (whatever is in it),
 * or a directory it is in. `original` is the plan rolled back (its topology and deploy root give the directories).
 */
export function stillInitiated(
  initiated: { set: string; message: string }[],
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
  return initiated.filter((i) => {
    const members = procs.filter((p) => p.replicaSet === i.set);
    return !members.length || !members.every((m) => gone(m.host, m.dirs.data));
  }).map((i) => ({ code: "irreversible", severity: "warning" as const, message: i.message }));
}
