/**
 * What the cluster's metadata records of its release (the binaries' path and sha256), and the
 * commands that bring a cluster back to what it records (the repair, the scale-in that finishes a
 * member's removal). Pure: the lifecycle planners and `cluster display` name them.
 */
import * as path from "node:path";
import type { ClusterMeta } from "../state/meta.ts";
import type { ProcessSpec } from "./processes.ts";
import type { ProcessFact } from "./lifecycle.ts";
import type { ValidationIssue } from "./schema.ts";
import { repairCommandOf } from "./command_of.ts";
import { hostPort } from "../topology/hosts.ts";

/** Where the release's binaries were installed (the same path on every host, as deploy put them). */
export function binaryPath(meta: ClusterMeta, p: ProcessSpec): string {
  return path.join(
    meta.deploy_dir,
    "bin",
    `${meta.variant}-${meta.version}`,
    "bin",
    p.role === "mongos" ? "mongos" : "mongod",
  );
}

/** The sha256 the deploy recorded for the binary at `file` on `host` (ClusterMeta.binaries). */
export function recordedSha256(meta: ClusterMeta, host: string, file: string): string | undefined {
  return meta.binaries?.find((b) => b.host === host && b.path === file)?.sha256;
}

/**
 * The repair that installs a missing file again: `mup cluster deploy <name> <topology> …` of the
 * recorded topology, as `cluster show-config` prints it (the file deployed may be gone, edited
 * since, or no longer the cluster after `cluster tls` or `reconfigure`), written where the
 * cluster's hooks run (recordedTopologyPath), after a `mkdir -p` of that directory (it may be
 * gone).
 */
export function repairCommand(meta: ClusterMeta): string {
  return repairCommandOf({
    name: meta.name,
    version: meta.version,
    ...(meta.topology_file ? { topology_file: meta.topology_file } : {}),
    ...(meta.release?.mirror ? { mirror: meta.release.mirror } : {}),
  });
}

/**
 * What finishes or undoes the removal of a recorded member its set's configuration no longer
 * lists (ProcessFact.removed): the scale-in of it, run again, when one was cut off after the
 * reconfig (`plan resume`, while that scale-in is the cluster's `unfinished` apply); the repair,
 * when it was removed by hand (rs.remove). One sentence, for planners' errors and warnings.
 */
export function removedMemberAdvice(
  meta: ClusterMeta,
  p: { host: string; port: number },
  unfinished?: { operation: string; stateId: string },
): string {
  if (unfinished?.operation === "scale-in") {
    return `If the unfinished scale-in (apply ${unfinished.stateId}) removed it, ` +
      `\`mup plan resume ${meta.name}\` finishes the removal; a member removed by hand ` +
      `(rs.remove) comes back with a repair (\`${repairCommand(meta)}\`) once that scale-in ` +
      "is finished or rolled back";
  }
  return "If a scale-in was cut off after removing it, that scale-in run again finishes the " +
    `removal (\`mup cluster scale-in ${meta.name} -N ${hostPort(p.host, p.port)}\`); a ` +
    `member removed by hand (rs.remove) comes back with a repair (\`${repairCommand(meta)}\`)`;
}

/**
 * The refusal of a rolling change (`what`: "a rolling upgrade", …) for each running member of
 * `procs` its set's configuration no longer lists (ProcessFact.removed): the roll would wait on
 * it until the apply's timeout, or leave the change stuck part way (code `member_removed`).
 */
export function removedMemberErrors(
  meta: ClusterMeta,
  procs: ProcessSpec[],
  facts: Record<string, ProcessFact>,
  what: string,
): ValidationIssue[] {
  return procs.filter((p) => facts[p.id]?.running && facts[p.id]?.removed).map((p) => ({
    code: "member_removed",
    severity: "error",
    host: p.host,
    message: `${hostPort(p.host, p.port)} runs, but is no longer a member of replica set ` +
      `${p.replicaSet} (its set's configuration does not list it): ${what} would wait for it ` +
      `to rejoin its set, which it cannot. ${removedMemberAdvice(meta, p)}`,
  }));
}
