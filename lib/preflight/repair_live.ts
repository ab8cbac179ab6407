/**
 * A repair's (`cluster deploy` of a recorded cluster) look at the live cluster, before it plans:
 * which recorded processes do not answer, which of those run on a certificate the cluster's CA
 * did not sign, which answer but are not well, and which members' options or membership were
 * changed outside mup. A repair of a cluster that runs as recorded, every process answering,
 * has nothing to do: the flow then says "No changes" (exit 0), as Terraform does.
 */
import type { ExecutorFactory } from "../executor/executor.ts";
import { driftWarnings, type SetDrift } from "../plan/member_options.ts";
import type { ValidationIssue } from "../plan/schema.ts";
import { listedShards, probeProcesses, type ProcessStatus } from "../probe/live.ts";
import { memberDrift } from "../probe/member_options.ts";
import { clusterAccess } from "../security/access.ts";
import { ANSWER_TIMEOUT_MS, type MongoAccess } from "../mongo/client.ts";
import { type UnlistedMember, unlistedMembers } from "../probe/unlisted_members.ts";
import type { ClusterMeta } from "../state/meta.ts";
import { hostKey } from "../topology/hosts.ts";
import type { Topology } from "../topology/schema.ts";

export interface RepairLook {
  /** IDs of the recorded processes that do not answer hello. */
  down: Set<string>;
  /** Of those, each one whose TLS certificate the cluster's CA did not sign, with the reason. */
  untrusted: Record<string, string>;
  /** When every process answers: those that are not healthy (display's judgment). */
  unwell: ProcessStatus[];
  /** Members' options changed outside mup (rs.reconfig), members removed (rs.remove). */
  drift: SetDrift;
  /** Recorded shards the cluster does not list (removed outside mup: removeShard). */
  unlistedShards: string[];
  /** Members a set's configuration has that the metadata does not record (rs.add by hand). */
  unlistedMembers: UnlistedMember[];
}

/**
 * The recorded shards of a sharded cluster that its first answering mongos does not list
 * (listShards): removed outside mup. Empty for other kinds, or when no mongos can list them.
 */
export async function unlistedShards(access: MongoAccess, meta: ClusterMeta): Promise<string[]> {
  if (meta.kind !== "sharded") return [];
  const listed = await listedShards(access, meta.processes.filter((p) => p.role === "mongos"));
  if (!listed.shards) return [];
  const sets = new Set(
    meta.processes.filter((p) => p.role === "mongod" && p.replica_set).map((p) => p.replica_set!),
  );
  return [...sets].sort().filter((s) => !listed.shards!.includes(s));
}

/** Asks the recorded cluster's processes (hello, replSetGetStatus, replSetGetConfig). */
export async function repairLook(
  meta: ClusterMeta,
  topology: Topology,
  deployDir: string,
  executors: ExecutorFactory,
): Promise<RepairLook> {
  const access = clusterAccess(meta.name, meta.topology, executors);
  const down = await access.unanswered(meta.processes);
  // …among them, members on a TLS certificate the cluster's CA did not sign: the repair
  // installs the CA's and restarts them on it (repair_restart.ts).
  const untrusted: Record<string, string> = {};
  for (const p of meta.processes.filter((x) => down.has(x.id))) {
    const why = (await access.helloOrUntrusted(p.host, p.port)).untrusted;
    if (why !== undefined) untrusted[p.id] = why;
  }
  // …and answering is not enough: a member its set no longer lists, or credentials the servers
  // refuse (the admin user dropped), are what a repair re-checks too (display's judgment).
  const statuses = down.size === 0
    ? await probeProcesses(
      access,
      meta.processes,
      new Map(),
      undefined,
      meta.processes,
      true,
      meta.name,
    )
    : [];
  const unwell = statuses.filter((s) => !s.healthy);
  // …and a member added by hand (rs.add), which no repair can initiate or keep a set beside.
  const { unlisted: members } = statuses.length
    ? await unlistedMembers(access, meta, statuses, ANSWER_TIMEOUT_MS)
    : { unlisted: [] };
  // …and a set's configuration: members' priority, votes or hidden changed outside mup
  // (rs.reconfig) are set back as the topology gives them, members removed (rs.remove) added
  // back.
  const drift = await memberDrift(meta, topology, deployDir, access, down);
  // …and a shard removed by hand (removeShard): the repair adds it back.
  const unlisted = down.size === 0 ? await unlistedShards(access, meta) : [];
  return { down, untrusted, unwell, drift, unlistedShards: unlisted, unlistedMembers: members };
}

/** The review's warnings for what `repairLook` found (none for a first deploy). */
export function repairWarnings(
  meta: ClusterMeta | undefined,
  unwell: ProcessStatus[],
  drift: SetDrift,
  unlisted: string[] = [],
): ValidationIssue[] {
  const removed = new Set(drift.removed.map((p) => `${hostKey(p.host)}:${p.port}`));
  return [
    ...unwell.filter((u) => !removed.has(`${hostKey(u.host)}:${u.port}`)).map((s) => ({
      code: "not_healthy",
      severity: "warning" as const,
      host: s.host,
      message: `${s.id} answers but is ${s.state}${s.reason ? ` (${s.reason})` : ""}: the ` +
        "repair re-checks every operation, and its health check fails if this remains" +
        // A member its set refuses runs with another key: only a restart of it mends that.
        (/authentication failed/i.test(s.reason ?? "")
          ? ` (the repair starts what is stopped; \`mup cluster restart ${
            meta!.name
          } -N ${s.id}\` ` +
            "restarts this one with the cluster's keyfile)"
          : ""),
    })),
    ...driftWarnings(drift),
    ...unlisted.map((set) => ({
      code: "shard_not_listed",
      severity: "warning" as const,
      message: `shard ${set} is not listed by the cluster (listShards: removed outside mup?): ` +
        "the repair adds it back through mongos (addShard)",
    })),
  ];
}

/**
 * What refuses a repair before it runs (tester59): members a set's configuration has and the
 * metadata does not (added by hand: the repair would stop at its set's initiation, which finds
 * them, and no mup command removes a member mup does not record); servers that enforce access
 * control the metadata says is off. Stored admin credentials the members refuse are a warning
 * only (repairWarnings' not_healthy): the user dropped by hand is what a repair creates again.
 */
export function repairRefusals(meta: ClusterMeta, look: RepairLook): ValidationIssue[] {
  const asking = look.unwell.filter((s) => s.asks_credentials).map((s) => s.id);
  return [
    ...unlistedMemberIssues(meta.name, look.unlistedMembers),
    // Servers that enforce access control the metadata says is off: a repair would write their
    // configurations without it (tester59).
    ...(asking.length
      ? [{
        code: "access_control_not_recorded",
        severity: "error" as const,
        message:
          `${asking.join(", ")} ask${
            asking.length === 1 ? "s" : ""
          } for credentials, but cluster ${meta.name} is recorded without access control ` +
          "(turned on outside mup, or the metadata edited?): a repair would write their " +
          "configurations without it. mup does not turn access control on for a running " +
          `cluster: \`mup cluster stop ${meta.name} -N <id>\` and \`cluster start -N\` put back ` +
          "the configuration mup wrote, or restore the metadata from a backup of $MUP_HOME",
      }]
      : []),
  ];
}

function unlistedMemberIssues(cluster: string, members: UnlistedMember[]): ValidationIssue[] {
  return members.map((m) => ({
    code: "unlisted_member",
    severity: "error" as const,
    message:
      `replica set ${m.replica_set}'s configuration has ${m.host}, which cluster ${cluster} ` +
      "does not record (added outside mup, rs.add?): a repair cannot run beside it, and no mup " +
      `command removes a member mup does not record. Remove it on the set's primary ` +
      `(rs.remove("${m.host}")), then plan again`,
  }));
}
