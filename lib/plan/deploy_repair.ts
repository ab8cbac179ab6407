/**
 * A repair's look at the hosts and its marks on the plan: what it writes again (a file
 * deleted or changed on a host, a certificate signed again) is listed as a change saying why,
 * and what the repair alone does not mend (a running member that read a changed file) is
 * warned of, or, for a CA pair replaced in the store, refused.
 */
import type { ExecutorFactory } from "../executor/executor.ts";
import { findRepairFiles } from "../preflight/repair_files.ts";
import { CA_KEY, secretPath } from "../security/secrets.ts";
import { certRef, SECRET } from "../security/settings.ts";
import type { ClusterMeta } from "../state/meta.ts";
import { clusterWideWriteConcernSet } from "../probe/default_write_concern.ts";
import { clusterAccess } from "../security/access.ts";
import {
  implicitDefaultRefusal,
  refusedWithoutDefault,
  setBackChange,
} from "./implicit_write_concern.ts";
import type { SetDrift } from "./member_options.ts";
import { listReplicaSets, type ProcessSpec } from "./processes.ts";
import {
  type CertificateToSign,
  changedConfigWarnings,
  foreignSecretWarnings,
  markRepairFindings,
  markResigned,
  repairFiles,
  type RepairFinding,
  replacedCaIssue,
} from "./repair_files.ts";
import type { Plan, ValidationIssue } from "./schema.ts";

/**
 * Finds on the hosts the files the repair plan of `meta`'s cluster installs, marks the plan
 * with what was found and with the certificates it signs again (`signs`), and adds the
 * warnings or refusal they call for. `down`: the IDs of the processes that do not answer.
 * Mutates `plan`; returns the findings (none: the hosts hold every file as recorded).
 */
export async function markRepair(
  plan: Pick<Plan, "phases" | "validation">,
  meta: ClusterMeta,
  { signs, procs, down, restarted, executors }: {
    signs: readonly CertificateToSign[];
    procs: ProcessSpec[];
    down?: ReadonlySet<string>;
    /** The processes the repair restarts itself (on a certificate the CA did not sign). */
    restarted: ReadonlySet<string>;
    executors: ExecutorFactory;
  },
): Promise<RepairFinding[]> {
  const files = repairFiles(plan, meta.binaries);
  const findings = await findRepairFiles(
    files,
    executors,
    meta.name,
    new Set(signs.filter((s) => s.found !== "missing").map((s) => certRef(s.id))),
  );
  markRepairFindings(plan, files, findings);
  markResigned(plan, signs);
  // Found already before planning (lostSecrets), where the hosts' ca.pem is on this machine.
  const found = plan.validation.errors.some((e) => e.code === "ca_replaced");
  // Down unknown: nothing is known to answer, nor to be started.
  const answered = new Set(
    down ? meta.processes.filter((p) => !down.has(p.id)).map((p) => p.id) : [],
  );
  const replaced = found ? undefined : replacedCaIssue(meta, signs, findings, files, {
    ca: secretPath(meta.name, SECRET.ca),
    caKey: secretPath(meta.name, CA_KEY),
  });
  if (replaced) {
    plan.validation.errors.push(replaced);
    plan.validation.valid = false;
  } else if (!found) {
    plan.validation.warnings.push(
      ...foreignSecretWarnings(findings, files, procs, meta.name, {
        started: new Set([...restarted, ...down ?? []]),
        answered,
      }),
    );
  }
  if (down) {
    plan.validation.warnings.push(
      ...changedConfigWarnings(findings, files, procs, answered, meta.name),
    );
  }
  return findings;
}

/**
 * The refusals (`implicit_write_concern`) of a repair of `meta`'s cluster whose setting back of
 * `drift` (members removed, votes changed outside mup: `procs`, the topology's processes) takes
 * a reconfig that MongoDB refuses while no cluster-wide default write concern is set
 * (refusedWithoutDefault: a replica set's change of its implicit default, a shard's to
 * `{w: 1}`): it would refuse it part way (103). Asks whether one is set (each such set's members
 * that its configuration still lists, or a sharded cluster's mongos) only then.
 */
export async function setBackIssues(
  meta: ClusterMeta,
  procs: ProcessSpec[],
  drift: SetDrift,
  executors: ExecutorFactory,
): Promise<ValidationIssue[]> {
  const issues: ValidationIssue[] = [];
  const access = clusterAccess(meta.name, meta.topology, executors);
  for (const s of listReplicaSets(procs)) {
    const removed = drift.removed.filter((p) => p.replicaSet === s.name);
    const change = setBackChange(
      s.members,
      removed,
      drift.options.filter((c) => c.proc.replicaSet === s.name),
    );
    if (!refusedWithoutDefault(meta, s, change)) continue;
    const asked = meta.kind === "sharded"
      ? procs.filter((p) => p.role === "mongos")
      : s.members.filter((m) => !removed.some((r) => r.id === m.id));
    const issue = implicitDefaultRefusal(
      meta,
      s,
      change,
      await clusterWideWriteConcernSet(access, asked),
    );
    if (issue) issues.push(issue);
  }
  return issues;
}
