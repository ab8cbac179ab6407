/**
 * The operations of the deploy, initialize and finalize phases (prepare: prepare_steps.ts; the
 * builders every planner shares: op_builders.ts). Pure, like the planner that assembles them:
 * everything comes from the StepContext.
 */
import * as path from "node:path";
import type { TopologyKind } from "../topology/schema.ts";
import { addressHost, hostKey, hostPort } from "../topology/hosts.ts";
import { configFilePath, type ConfigSecurity, pidFilePath } from "./mongo_config.ts";
import type { Security } from "../security/settings.ts";
import type { ProcessSpec, ReplicaSetSpec } from "./processes.ts";
import type { PlannedOperation, Release, SafetyCheck } from "./schema.ts";
import type { DeployPlanInput } from "./planner.ts";
import { change, check, describeRole, EST, op, processTarget, startParams } from "./op_builders.ts";

export interface StepContext {
  input: DeployPlanInput;
  kind: TopologyKind;
  procs: ProcessSpec[];
  sets: ReplicaSetSpec[];
  cfgSet?: ReplicaSetSpec;
  configDb?: string;
  hosts: string[];
  /** Where the server binaries are installed (the same path on every host). */
  binDir: string;
  archive: string;
  /** Where the control machine unpacks the release in its cache. */
  unpackedDir: string;
  /** The cluster's security settings (topology global.security). */
  security: Security;
  /** The security part of a process's configuration (paths on its host). */
  configSecurity: (p: ProcessSpec) => ConfigSecurity;
  /** The deploy root on every host (global.deploy_dir, else the default). */
  deployRoot: string;
}

/** One release to download, and the hosts that install it. */
interface ReleaseUse {
  release: Release;
  downloadId: string;
  archive: string;
  unpackedDir: string;
  cached: boolean;
}

/**
 * The release of every host: the control machine's, or the one resolved for a remote host of
 * another architecture (DeployPlanInput.hostReleases). Pure.
 */
export function releaseUses(
  c: StepContext,
): { uses: ReleaseUse[]; of: (host: string) => ReleaseUse } {
  const { input } = c;
  const use = (r: Release, archive: string, unpackedDir: string, cached: boolean): ReleaseUse => ({
    release: r,
    downloadId: `download-${r.variant}-${r.version}-${r.platform}`,
    archive,
    unpackedDir,
    cached,
  });
  const main = use(input.release, c.archive, c.unpackedDir, input.cached);
  const byPlatform = new Map([[input.release.platform, main]]);
  for (const r of Object.values(input.hostReleases ?? {})) {
    if (byPlatform.has(r.platform)) continue;
    byPlatform.set(
      r.platform,
      use(
        r,
        path.join(input.cacheDir, r.archive_name),
        path.join(input.cacheDir, `${r.variant}-${r.version}-${r.platform}`),
        input.cachedPlatforms?.includes(r.platform) ?? false,
      ),
    );
  }
  return {
    uses: [...byPlatform.values()],
    of: (host) => byPlatform.get(input.hostReleases?.[host]?.platform ?? "") ?? main,
  };
}

/** One install per machine, whichever names the topology gives it. */
export const installId = (host: string) => `install-binaries-${hostKey(host)}`;

export function deployAndInitializeOps(
  c: StepContext,
): { deploy: PlannedOperation[]; initialize: PlannedOperation[] } {
  const { kind, procs, sets, cfgSet, binDir } = c;
  const releases = releaseUses(c);
  const startOp = (p: ProcessSpec, deps: string[]): PlannedOperation => {
    const binary = path.join(binDir, "bin", p.role === "mongos" ? "mongos" : "mongod");
    const checks: SafetyCheck[] = [
      check(
        `start-${p.id}:port`,
        "port_available",
        hostPort(p.host, p.port),
        `port ${p.port} is free on ${p.host}`,
        { host: p.host, port: p.port, config: configFilePath(p) },
      ),
      check(
        `start-${p.id}:binary`,
        "binary_present",
        `${addressHost(p.host)}:${binary}`,
        "binary is installed and matches the verified download",
        {
          host: p.host,
          path: binary,
          source: path.join(
            releases.of(p.host).unpackedDir,
            "bin",
            path.basename(binary),
          ),
        },
      ),
      check(
        `start-${p.id}:config`,
        "config_valid",
        `${addressHost(p.host)}:${configFilePath(p)}`,
        "configuration file is present and valid",
        { host: p.host, path: configFilePath(p), port: p.port },
      ),
      check(
        `start-${p.id}:not-running`,
        "process_not_running",
        `${addressHost(p.host)}:${pidFilePath(p)}`,
        "no process of this node is already running",
        { host: p.host, pid_file: pidFilePath(p), config: configFilePath(p) },
      ),
    ];
    if (p.role === "mongos" && cfgSet) {
      checks.push(
        check(
          `start-${p.id}:deps`,
          "dependencies_running",
          cfgSet.name,
          "config servers are running",
          { members: cfgSet.members.map((m) => hostPort(m.host, m.port)) },
        ),
      );
    }
    return op({
      id: `start-${p.id}`,
      type: "start_process",
      description: `Start ${describeRole(p)} ${hostPort(p.host, p.port)}`,
      target: {
        ...processTarget(p, startParams(p, binary)),
        // A forking mongod returns once it is ready (after journal recovery): --wait-timeout
        // raises this limit, never lowers it below the default.
        timeout_ms: Math.max(120_000, c.input.waitTimeoutMs ?? 0),
      },
      pre_conditions: checks,
      changes: [
        change("process", p.id, "start", { host: p.host, port: p.port }),
        change("port", hostPort(p.host, p.port), "create"),
      ],
      depends_on: deps,
      estimated_ms: EST.start,
    });
  };
  const waitOp = (p: ProcessSpec): PlannedOperation =>
    op({
      id: `wait-${p.id}`,
      type: "wait_for_process",
      description: `Wait for ${describeRole(p)} ${hostPort(p.host, p.port)}`,
      target: {
        ...processTarget(p, { pid_file: pidFilePath(p) }),
        timeout_ms: timeoutMs(c, p.role === "mongos" ? 60_000 : 30_000),
      },
      depends_on: [`start-${p.id}`],
      estimated_ms: EST.wait,
    });
  const prepDeps = (p: ProcessSpec) => [`upload-config-${p.id}`, installId(p.host)];

  // The specification's order: the config servers start and are waited for, then the members.
  const deploy: PlannedOperation[] = [];
  for (const role of ["config", "mongod"]) {
    const group = procs.filter((p) => p.role === role);
    for (const p of group) deploy.push(startOp(p, prepDeps(p)));
    for (const p of group) deploy.push(waitOp(p));
  }

  const initialize: PlannedOperation[] = [];
  const initId = (set: string) => `init-rs-${set}`;
  for (const s of [...sets].sort((a, b) => Number(b.configsvr) - Number(a.configsvr))) {
    const config = initConfig(s);
    const members = config.members;
    initialize.push(op({
      id: initId(s.name),
      type: "init_replica_set",
      description: `Initialize ${s.configsvr ? "config" : s.name} replica set`,
      target: {
        type: "replica_set",
        name: s.name,
        host: s.members[0].host,
        port: s.members[0].port,
        params: { config: JSON.stringify(config) },
        timeout_ms: timeoutMs(c, 60_000),
      },
      pre_conditions: [
        check(
          `${initId(s.name)}:members`,
          "members_reachable",
          s.name,
          "every member answers hello",
          { members: members.map((m) => m.host) },
        ),
      ],
      changes: [change("replica_set", s.name, "create", config)],
      depends_on: s.members.map((m) => `wait-${m.id}`),
      parallel: true,
      estimated_ms: EST.initSet,
    }));
  }
  const mongoses = procs.filter((p) => p.role === "mongos");
  for (const p of mongoses) {
    initialize.push(startOp(p, [...prepDeps(p), initId(cfgSet!.name)]));
    initialize.push(waitOp(p));
  }
  if (kind === "sharded") {
    const router = mongoses[0];
    for (const s of sets.filter((x) => !x.configsvr)) {
      const seed = `${s.name}/${s.members.map((m) => hostPort(m.host, m.port)).join(",")}`;
      initialize.push(op({
        id: `add-shard-${s.name}`,
        type: "add_shard",
        description: `Add ${s.name} to cluster`,
        target: {
          type: "replica_set",
          name: s.name,
          host: router.host,
          port: router.port,
          params: { shard: seed, name: s.name },
          timeout_ms: timeoutMs(c, 60_000),
        },
        pre_conditions: [
          check(
            `add-shard-${s.name}:router`,
            "members_reachable",
            hostPort(router.host, router.port),
            "mongos answers hello",
            { members: [hostPort(router.host, router.port)] },
          ),
        ],
        changes: [change("shard", s.name, "create", { host: seed })],
        depends_on: [`wait-${router.id}`, initId(s.name)],
        estimated_ms: EST.addShard,
      }));
    }
  }

  return { deploy, initialize };
}

export function finalizeOps(
  c: StepContext,
  deploy: PlannedOperation[],
  initialize: PlannedOperation[],
): PlannedOperation[] {
  const { input, kind, procs, sets } = c;
  const finalize: PlannedOperation[] = [];
  // Health is checked once everything has settled: the sinks of the deploy and initialize
  // operations (each of them already depends on the rest).
  const needed = new Set([...deploy, ...initialize].flatMap((o) => o.depends_on));
  const everyLeaf = [...deploy, ...initialize].filter((o) => !needed.has(o.id)).map((o) => o.id);
  finalize.push(op({
    id: "verify-health",
    type: "verify_health",
    description: "Verify cluster health",
    target: {
      type: "cluster",
      name: input.clusterName,
      params: {
        kind,
        processes: JSON.stringify(
          procs.map((p) => ({
            id: p.id,
            host: p.host,
            port: p.port,
            role: p.role,
            replica_set: p.replicaSet,
            pid_file: pidFilePath(p),
          })),
        ),
        shards: JSON.stringify(
          sets.filter((s) => !s.configsvr && kind === "sharded").map((s) => s.name),
        ),
      },
      timeout_ms: timeoutMs(c, 30_000),
    },
    depends_on: everyLeaf,
    parallel: false,
    estimated_ms: EST.verify,
  }));
  finalize.push(op({
    id: "save-metadata",
    type: "save_metadata",
    description: "Save cluster metadata",
    target: {
      type: "cluster",
      name: input.clusterName,
      params: {
        path: path.join(input.clusterDir, "meta.yaml"),
        // Onto data a destroy kept: what earlier scale-ins kept stays recorded too.
        ...(input.retainedSecrets ? { retained_archive: input.retainedSecrets.archive } : {}),
      },
    },
    changes: [change("file", path.join(input.clusterDir, "meta.yaml"), "create")],
    depends_on: ["verify-health"],
    parallel: false,
    estimated_ms: EST.save,
  }));

  return finalize;
}

/** A wait's timeout as recorded in the plan: --wait-timeout when given, else the default. */
function timeoutMs(c: StepContext, dflt: number): number {
  return c.input.waitTimeoutMs ?? dflt;
}

/**
 * The replSetInitiate document of a set of the topology: `_id`, `configsvr`, and each member's
 * `_id` (its place in the topology), `host` and the options the topology gives other than
 * MongoDB's defaults (priority, votes, hidden, arbiterOnly). The plan's `init-rs-<set>` carries
 * it; plan validation (plan_members.ts) compares what a plan file says with it.
 */
export function initConfig(s: ReplicaSetSpec): {
  _id: string;
  configsvr?: true;
  members: { _id: number; host: string; [option: string]: unknown }[];
} {
  const members = s.members.map((m, i) => ({
    _id: i,
    host: hostPort(m.host, m.port),
    ...(m.priority !== 1 ? { priority: m.priority } : {}),
    ...(m.votes !== 1 ? { votes: m.votes } : {}),
    ...(m.hidden ? { hidden: true } : {}),
    ...(m.arbiterOnly ? { arbiterOnly: true } : {}),
  }));
  return { _id: s.name, ...(s.configsvr ? { configsvr: true as const } : {}), members };
}

/**
 * The other names `host` has among the processes' hosts: addresses of the same machine (hostKey:
 * loopback aliases such as 127.0.0.2 and 127.0.0.3), which one per-machine operation serves.
 */
export function sameMachine(host: string, procs: { host: string }[]): string[] {
  const k = hostKey(host);
  return [...new Set(procs.map((p) => p.host))].filter((h) => h !== host && hostKey(h) === k);
}

/** " (also 127.0.0.3, 127.0.0.4: the same machine)", or "" without other names. */
export function alsoNamed(aliases: string[]): string {
  return aliases.length ? ` (also ${aliases.join(", ")}: the same machine)` : "";
}
