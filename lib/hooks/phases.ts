/**
 * The phases a hook's `phase` can name: every phase of every plan mup makes, by the kind of
 * cluster (a replica set's restart has `restart-mongod`, a sharded cluster's `restart-shards`).
 * A hook for any other name never runs; topology validation warns of it (lib/topology/validate.ts)
 * and planning names a close one (lib/plan/phase_names.ts).
 */
import type { TopologyKind } from "../topology/schema.ts";
import { didYouMean } from "../util/similar.ts";

/** The phase of `step` ("restart", "upgrade") for the mongod members of a `kind` cluster. */
export function membersPhase(step: "restart" | "upgrade", kind: TopologyKind): string {
  return `${step}-${kind === "sharded" ? "shards" : "mongod"}`;
}

/** The tlsMode steps of `cluster tls` (lib/plan/mongo_config.ts TLS_STEPS, checked by a test). */
export const TLS_PHASE_STEPS = ["disabled", "allowTLS", "preferTLS", "requireTLS"] as const;

/** Phases whose names do not depend on the cluster's kind, by the plans that have them. */
const COMMON = [
  // deploy, scale-out
  "prepare",
  "deploy",
  "initialize",
  "finalize",
  // stop, start, restart --force, destroy, scale-in
  "stop",
  "start",
  "archive",
  "remove",
  "remove-members",
  "remove-files",
  // reconfigure
  "configure",
  "default-write-concern",
  "reconfigure-members",
  // upgrade
  "install",
  // cluster tls
  "certificates",
  "remove-certificates",
];

/** Phases only a sharded cluster's plans have (config servers, mongos, the balancer). */
const SHARDED = [
  "restart-config",
  "restart-mongos",
  "stop-balancer",
  "upgrade-config",
  "upgrade-mongos",
  "start-balancer",
];

/**
 * Every phase name a plan of a `kind` cluster can have, sorted: COMMON, the kind's restart and
 * upgrade phases, `cluster tls`'s rounds per tlsMode step, and `undo-<phase>` of a rollback.
 */
export function knownPhases(kind: TopologyKind): string[] {
  const sharded = kind === "sharded";
  const tls = TLS_PHASE_STEPS.flatMap((m) => [
    `configure-${m}`,
    ...(sharded ? [`restart-config-${m}`, `restart-mongos-${m}`] : []),
    `restart-mongod-${m}`,
    `restart-arbiters-${m}`,
    `set-${m}`,
  ]);
  const own = [
    ...COMMON,
    ...(sharded ? SHARDED : []),
    membersPhase("restart", kind),
    membersPhase("upgrade", kind),
    ...tls,
  ];
  return [...own, ...own.map((p) => `undo-${p}`)].sort();
}

/**
 * Whether a hook for `phase` in a `kind` cluster never runs: undefined when some plan has it;
 * else `{ note }`, what it was likely meant for, when there is one: the other kind's name
 * (`restart-shards` in a replica set: 'a replica set names that phase "restart-mongod"…'), or
 * the closest name ('did you mean "restart-mongod"?').
 */
export function unknownPhase(phase: string, kind: TopologyKind): { note?: string } | undefined {
  const known = knownPhases(kind);
  if (known.includes(phase)) return undefined;
  // Not this kind's (known has it): the other kind's name, so `own` is this kind's.
  const own = otherKindsPhase(phase);
  if (own) {
    return {
      note: `${aKind(kind)} names that phase "${own}"; ${phase} is ${
        kind === "sharded" ? "a replica set's" : "a sharded cluster's"
      }`,
    };
  }
  const guess = didYouMean(phase, known);
  return guess ? { note: `did you mean "${guess}"?` } : {};
}

/**
 * The other kind's name of `phase`, when it is one of membersPhase's: `restart-mongod` →
 * `restart-shards` and back; undefined for any other phase.
 */
export function otherKindsPhase(phase: string): string | undefined {
  const m = /^(restart|upgrade)-(mongod|shards)$/.exec(phase);
  return m ? `${m[1]}-${m[2] === "shards" ? "mongod" : "shards"}` : undefined;
}

/** "a sharded cluster", "a replica set", "a standalone". */
export function aKind(kind: TopologyKind): string {
  return `a ${kind === "sharded" ? "sharded cluster" : kind.replace("_", " ")}`;
}
