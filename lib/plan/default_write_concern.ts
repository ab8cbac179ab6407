/**
 * `global.default_write_concern`: the cluster-wide default write concern (CWWC) deploy and
 * reconfigure set with setDefaultRWConcern, as a reviewed operation of the plan. A replica set
 * cluster sets it on each set's primary; a sharded cluster through mongos (the config servers
 * keep it), before its shards are added, so that a shard whose implicit default is `{w: 1}`
 * (arbiters) may join on MongoDB 5.1+. MongoDB manual: setDefaultRWConcern, "Default MongoDB
 * Read Concerns/Write Concerns". Pure.
 */
import { hostPort } from "../topology/hosts.ts";
import {
  type DefaultWriteConcern,
  type Topology,
  writeConcernDocument,
} from "../topology/schema.ts";
import {
  STANDALONE_DEFAULT_WRITE_CONCERN,
  unsatisfiableW,
} from "../topology/validate_write_concern.ts";
import { canonical } from "./redeploy.ts";
import { op } from "./op_builders.ts";
import type { ProcessSpec, ReplicaSetSpec } from "./processes.ts";
import type { PlannedOperation, ValidationIssue } from "./schema.ts";

/** `{w: "majority", j: true}` as a plan describes it (documentText of its document). */
export function concernText(c: DefaultWriteConcern): string {
  return documentText(writeConcernDocument(c));
}

/**
 * A write concern document as a server returns it (getDefaultRWConcern), `{w: 2, j: true}`: w,
 * and j and wtimeout where they say something; none is the implicit `{w: 1}`.
 */
export function documentText(wc: { w?: unknown; j?: unknown; wtimeout?: unknown } | undefined) {
  if (!wc) return "{w: 1}";
  return `{${
    [
      `w: ${JSON.stringify(wc.w)}`,
      ...(wc.j !== undefined ? [`j: ${wc.j}`] : []),
      ...(Number(wc.wtimeout ?? 0) > 0 ? [`wtimeout: ${wc.wtimeout}`] : []),
    ].join(", ")
  }}`;
}

/**
 * The operations that set `concern` on cluster `cluster` of `kind`: one per replica set
 * (`sets`, on its primary, after `deps(set)`), or one through `routers` (sharded, after
 * `deps("cluster")`). Empty for a standalone, which has no default to set.
 */
export function defaultWriteConcernOps(
  cluster: string,
  kind: string,
  concern: DefaultWriteConcern,
  sets: ReplicaSetSpec[],
  routers: ProcessSpec[],
  deps: (scope: string) => string[],
  timeoutMs = 60_000,
): PlannedOperation[] {
  const doc = JSON.stringify(writeConcernDocument(concern));
  const description = (where: string) =>
    `Set the default write concern to ${concernText(concern)} ${where} (setDefaultRWConcern)`;
  const hosts = (l: ProcessSpec[]) => JSON.stringify(l.map((p) => hostPort(p.host, p.port)));
  if (kind === "sharded" && routers.length) {
    return [op({
      id: "set-default-write-concern",
      type: "set_default_write_concern",
      description: description("through mongos (kept by the config servers)"),
      target: {
        type: "cluster",
        name: cluster,
        host: routers[0].host,
        port: routers[0].port,
        params: { concern: doc, members: hosts(routers), via: "mongos" },
        timeout_ms: timeoutMs,
      },
      depends_on: deps("cluster"),
      parallel: false,
      estimated_ms: 500,
    })];
  }
  if (kind !== "replica_set") return [];
  return sets.filter((s) => !s.configsvr).map((s) =>
    op({
      id: `set-default-write-concern-${s.name}`,
      type: "set_default_write_concern",
      description: description(`on replica set ${s.name}`),
      target: {
        type: "replica_set",
        name: s.name,
        host: s.members[0].host,
        port: s.members[0].port,
        params: { concern: doc, members: hosts(s.members) },
        timeout_ms: timeoutMs,
      },
      depends_on: deps(s.name),
      estimated_ms: 500,
    })
  );
}

/**
 * What is wrong with `topology`'s default_write_concern for MongoDB `version`: a standalone has
 * none (setDefaultRWConcern refuses it, 51300); before 4.4 there is no setDefaultRWConcern; a
 * numeric `w` above a set's data-bearing members would never be acknowledged.
 */
export function defaultWriteConcernIssues(
  topology: Topology,
  kind: string,
  sets: ReplicaSetSpec[],
  version: string,
): ValidationIssue[] {
  const c = topology.global.default_write_concern;
  if (!c) return [];
  const issue = (message: string): ValidationIssue => ({
    code: "default_write_concern",
    severity: "error",
    message: `global.default_write_concern: ${message}`,
  });
  if (kind === "standalone") return [issue(STANDALONE_DEFAULT_WRITE_CONCERN)];
  const [major, minor] = version.split(".").map(Number);
  if (major < 4 || (major === 4 && minor < 4)) {
    return [issue(
      `MongoDB ${version} has no setDefaultRWConcern (4.4 and later); remove it, or deploy 4.4+`,
    )];
  }
  const w = c.w;
  if (typeof w !== "number") return [];
  return sets.filter((s) => !s.configsvr).flatMap((s) => {
    const no = unsatisfiableW(w, s.name, s.members.filter((m) => !m.arbiterOnly).length);
    return no ? [issue(`w: ${w} ${no.why}. ${no.fix[0].toUpperCase()}${no.fix.slice(1)}`)] : [];
  });
}

/**
 * How `asked`'s default_write_concern differs from `recorded`'s: "none", "set" (added or
 * changed), or "unset" (removed, which MongoDB cannot do: a CWWC once set stays).
 */
export function defaultWriteConcernChange(
  recorded: Topology,
  asked: Topology,
): "none" | "set" | "unset" {
  const a = asked.global.default_write_concern, r = recorded.global.default_write_concern;
  if (canonical(a) === canonical(r)) return "none";
  return a ? "set" : "unset";
}

/** `recorded` with `from`'s default_write_concern: what a reconfigure records. */
export function withDefaultWriteConcern(recorded: Topology, from: Topology): Topology {
  const { default_write_concern: _, ...global } = recorded.global;
  const c = from.global.default_write_concern;
  return { ...recorded, global: c ? { ...global, default_write_concern: c } : global };
}
