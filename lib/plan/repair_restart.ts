/**
 * A repair's restart of the members found running on a TLS certificate the cluster's CA did not
 * sign. Such a member serves nothing (its set and its clients refuse it) and no wait mends it;
 * the repair installs the CA's certificate, so it stops the member (forced: nothing of its set
 * waits on it) and starts it again on that one. Without this the repair would review "Start"
 * for a running member, find it "already running" and fail at its wait. Pure.
 */
import type { PlannedOperation } from "./schema.ts";
import type { ProcessSpec } from "./processes.ts";
import { stopOp } from "./lifecycle_ops.ts";

/**
 * Puts before the start of each process of `untrusted` (ID → the handshake's failure) in `ops`
 * a forced stop that runs after everything the start waits on (its certificate installed
 * among it), and makes the start depend on it. Mutates `ops` and its operations.
 */
export function restartUntrusted(
  ops: PlannedOperation[],
  procs: readonly ProcessSpec[],
  untrusted: ReadonlyMap<string, string>,
): void {
  for (let i = 0; i < ops.length; i++) {
    const start = ops[i];
    const why = start.type === "start_process" ? untrusted.get(start.target.name) : undefined;
    const p = why !== undefined ? procs.find((x) => x.id === start.target.name) : undefined;
    if (!p) continue;
    const stop = stopOp(p, [...start.depends_on], true);
    stop.description += `: it runs on a TLS certificate the cluster's CA did not sign for it ` +
      `(${why}), ` +
      "which its replica set and its clients refuse";
    start.description += " on the certificate this repair installs";
    start.depends_on.push(stop.id);
    start.changes = start.changes.map((c) =>
      c.resource_type === "process" ? { ...c, action: "start" } : c
    );
    ops.splice(i, 0, stop);
    i++;
  }
}
