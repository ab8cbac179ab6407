/**
 * `mup cluster scale-out <name> <topology>`: new processes added to a running cluster — members
 * of its replica sets (shards' or the set's), new shards (a new replica set, initiated and added
 * through mongos), new mongos. The plan is the deploy plan of the whole new topology cut down to
 * what the new processes need: their binaries, secrets, directories and configurations, their
 * starts, then each grown set's `add_members` (one voting member per replSetReconfig) and a wait
 * until each new member is SECONDARY and caught up; a new shard's initiation, first user and
 * addShard as a deploy makes them. The health of the whole cluster is verified and the metadata
 * records the new processes last. Pure.
 */
import type { Document } from "mongodb";
import { addOrder } from "../ops/add_members.ts";
import type { ClusterMeta } from "../state/meta.ts";
import { hostKey, hostPort } from "../topology/hosts.ts";
import type { Topology } from "../topology/schema.ts";
import { handBackOp, memberStateOp, verifyOnly } from "./lifecycle_ops.ts";
import { takesBack } from "./restart_warnings.ts";
import { lifecyclePlan } from "./lifecycle.ts";
import { change, EST, mongosConfigRewriteOps, op } from "./op_builders.ts";
import { configDbString, listProcesses, listReplicaSets, type ProcessSpec } from "./processes.ts";
import { recordedConfigs } from "./start_files.ts";
import type { Hook } from "../hooks/schema.ts";
import type { MeasuredDurations } from "./estimates.ts";
import { allOperations, type Plan, type PlannedOperation } from "./schema.ts";

export interface ScaleOutPlanInput {
  planId: string;
  createdAt: string;
  meta: ClusterMeta;
  /** The cluster's directory on the control machine (staging), and its default deploy root. */
  clusterDir: string;
  deployDir: string;
  /** The deploy plan (planDeploy) of the whole new topology, its pre-flight included. */
  deploy: Omit<Plan, "content_hash">;
  hooks: Hook[];
  dryRun?: boolean;
  measured?: MeasuredDurations;
  /**
   * `--wait-timeout` (ms): each wait's limit. Without it, a new member's wait until SECONDARY
   * and caught up (its initial sync, which copies the set's data) gets an hour.
   */
  waitTimeoutMs?: number;
}

/** How long a new member's initial sync is waited for without --wait-timeout. */
export const INITIAL_SYNC_MS = 3_600_000;

const machine = (host: string, port: number) => `${hostKey(host)}:${port}`;

/** The processes of `topology` the recorded cluster does not have. */
export function addedProcesses(meta: ClusterMeta, topology: Topology, deployDir: string) {
  const have = new Set(meta.processes.map((p) => machine(p.host, p.port)));
  return listProcesses(topology, deployDir).filter((p) => !have.has(machine(p.host, p.port)));
}

/**
 * `add-members-<set>`: the new members of an existing set added to its config, as the deploy
 * plan's replSetInitiate document describes them (priority, votes, hidden, arbiterOnly),
 * data-bearing members first (addOrder). When arbiters join after voting data-bearing members,
 * the operation waits for those members' initial syncs (their votes): its timeout is then
 * `syncWaitMs` (default INITIAL_SYNC_MS).
 */
export function addMembersOp(
  set: { name: string; members: ProcessSpec[] },
  added: ProcessSpec[],
  init: PlannedOperation,
  deps: string[],
  syncWaitMs = INITIAL_SYNC_MS,
): PlannedOperation {
  const planned = JSON.parse(init.target.params.config).members as Document[];
  const hosts = new Set(added.map((p) => machine(p.host, p.port)));
  const add = addOrder(
    planned.filter((m) => {
      const i = String(m.host).lastIndexOf(":");
      return hosts.has(machine(String(m.host).slice(0, i), Number(String(m.host).slice(i + 1))));
    }).map(({ _id: _, ...m }) => m),
  );
  // Where the primary is looked for: the members that stay, or (every member added back by a
  // repair that could not read its set) all of them.
  const stay = set.members.filter((p) => !hosts.has(machine(p.host, p.port)));
  const recorded = stay.length ? stay : set.members;
  const voting = add.filter((m) => !m.arbiterOnly && Number(m.votes ?? 1) > 0);
  const arbiters = add.filter((m) => m.arbiterOnly);
  const waits = voting.length > 0 && arbiters.length > 0;
  const list = (l: Document[]) => l.map((m) => m.host).join(", ");
  return op({
    id: `add-members-${set.name}`,
    type: "add_members",
    description: waits
      ? `Add ${list(add.filter((m) => !m.arbiterOnly))} to replica set ${set.name}, then ` +
        `arbiter${arbiters.length > 1 ? "s" : ""} ${list(arbiters)} once ${
          voting.length > 1 ? "they vote" : "it votes"
        } (initial sync done; one replSetReconfig each)`
      : `Add ${list(add)} to replica set ${set.name}${
        add.length > 1 ? " (one replSetReconfig each)" : ""
      }`,
    target: {
      type: "replica_set",
      name: set.name,
      host: recorded[0].host,
      port: recorded[0].port,
      params: {
        add: JSON.stringify(add),
        members: JSON.stringify(recorded.map((p) => hostPort(p.host, p.port))),
      },
      timeout_ms: waits ? syncWaitMs : init.target.timeout_ms ?? 120_000,
    },
    pre_conditions: [],
    changes: add.map((m) => change("replica_set_member", `${set.name}/${m.host}`, "create", m)),
    depends_on: deps,
    parallel: true,
    estimated_ms: EST.initSet,
  });
}

/** Pure: the `cluster scale-out` Plan (no phases when the topology adds nothing). */
export function planScaleOut(input: ScaleOutPlanInput): Omit<Plan, "content_hash"> {
  const { meta, deploy } = input;
  const procs = listProcesses(deploy.topology, input.deployDir);
  const added = addedProcesses(meta, deploy.topology, input.deployDir);
  const addedIds = new Set(added.map((p) => p.id));
  const recordedSets = new Set(meta.processes.flatMap((p) => p.replica_set ?? []));
  const sets = listReplicaSets(procs);
  const newSets = new Set(sets.filter((s) => !recordedSets.has(s.name)).map((s) => s.name));
  const grown = sets.filter((s) =>
    recordedSets.has(s.name) && s.members.some((m) => addedIds.has(m.id))
  );
  const newHosts = new Set(added.map((p) => hostKey(p.host)));
  const usedHosts = new Set(meta.processes.map((p) => hostKey(p.host)));

  // What each operation of the deploy plan is about: kept for a new process, host or set.
  const keep = (o: PlannedOperation): boolean => {
    const t = o.target;
    if (o.type === "download_binary" || o.type === "verify_health") return true;
    if (o.type === "save_metadata") return true;
    if (o.type === "generate_secret") {
      const cert = /^secret-cert-(.+)$/.exec(o.id);
      return cert ? addedIds.has(cert[1]) : true;
    }
    if (o.id.startsWith("mkdir-")) return addedIds.has(o.id.slice("mkdir-".length));
    if (t.type === "process") return addedIds.has(t.name);
    if (t.type === "host") return newHosts.has(hostKey(t.host ?? t.name));
    if (t.type === "replica_set") return newSets.has(t.name);
    return false;
  };
  const deployOps = allOperations(deploy);
  const byId = new Map(deployOps.map((o) => [o.id, o]));
  const replaced = new Map<string, PlannedOperation>();
  // An operation left out stands for its own dependencies, so what came after it still waits
  // for everything kept before it.
  const memo = new Map<string, string[]>();
  const through = (id: string): string[] => {
    if (replaced.has(id) || (byId.has(id) && keep(byId.get(id)!))) {
      return [replaced.get(id)?.id ?? id];
    }
    const m = memo.get(id);
    if (m) return m;
    const r = [...new Set((byId.get(id)?.depends_on ?? []).flatMap(through))];
    memo.set(id, r);
    return r;
  };
  for (const s of grown) {
    const init = byId.get(`init-rs-${s.name}`)!;
    const deps = [...new Set(init.depends_on.flatMap(through))];
    replaced.set(
      init.id,
      addMembersOp(
        s,
        s.members.filter((m) => addedIds.has(m.id)),
        init,
        deps,
        input.waitTimeoutMs,
      ),
    );
  }
  const waits = grown.flatMap((s) =>
    s.members.filter((m) => addedIds.has(m.id)).map((m) => {
      const w = memberStateOp(m, s, "SECONDARY", [`add-members-${s.name}`]);
      w.target.timeout_ms = input.waitTimeoutMs ?? INITIAL_SYNC_MS;
      return w;
    })
  );
  // An added member of higher priority than every other electable member of its set takes
  // the primary once it is caught up (priority takeover: an election). The plan waits for it,
  // so that it completes with the set's primary where it will stay, and says so.
  const topMembers = grown.flatMap((s) =>
    s.members.filter((m) => addedIds.has(m.id) && takesBack(s, m)).map((m) => ({ s, m }))
  );
  const takeovers = topMembers.map(({ s, m }) =>
    handBackOp(s, m, waits.filter((w) => w.target.name === m.id).map((w) => w.id))
  );
  const takeoverWarnings = topMembers.map(({ s, m }) => ({
    code: "priority_takeover",
    severity: "warning" as const,
    host: m.host,
    message: `${s.name}: ${hostPort(m.host, m.port)} joins with the highest priority ` +
      `(${m.priority}): once SECONDARY and caught up it takes the primary over (priority ` +
      "takeover: an election, a brief pause in writes); the plan waits for it",
  }));
  // Config server members added: every recorded mongos's sharding.configDB names the config
  // servers, so its configuration file is written again with them (read at its next start; a
  // running mongos follows the config server set's membership by itself), once they serve.
  const cfgGrown = grown.find((s) => s.configsvr);
  const seeds = cfgGrown
    ? recordedConfigs({ ...meta, topology: deploy.topology }, input.deployDir)
    : undefined;
  const configDb = cfgGrown ? configDbString(cfgGrown) : "";
  const mongosConfigs = seeds
    ? mongosConfigRewriteOps(
      procs.filter((p) => p.role === "mongos" && !addedIds.has(p.id)),
      seeds,
      {
        clusterDir: input.clusterDir,
        generate: (p) =>
          `Generate the configuration of ${p.id} with the config servers ${configDb}`,
        // Once the new config server members serve: a failure before leaves the mongos
        // configurations as recorded.
        deps: waits.filter((w) => cfgGrown!.members.some((m) => m.id === w.target.name))
          .map((w) => w.id),
      },
    )
    : [];
  // A host that already runs the cluster's processes has its binaries and secrets: their
  // operations re-check them (each is idempotent) and change nothing; so do the secrets the
  // store holds.
  const settled = (o: PlannedOperation) =>
    (o.target.type === "host" && usedHosts.has(hostKey(o.target.host ?? o.target.name))) ||
    (o.type === "generate_secret" && !/^secret-cert-/.test(o.id));
  const cut = (ops: PlannedOperation[]): PlannedOperation[] =>
    ops.flatMap((o) => {
      const r = replaced.get(o.id);
      if (r) return [r];
      if (!keep(o)) return [];
      const depends_on = [...new Set(o.depends_on.flatMap(through))];
      const next = { ...o, depends_on };
      if (settled(o)) {
        next.changes = o.changes.map((c) => ({ ...c, action: "none" as const }));
        next.description = o.type === "generate_secret"
          ? o.description.replace(/ \(an earlier attempt made it\)$/, "").replace(
            /^Create the cluster's certificate authority.*$/,
            "Keep the cluster's certificate authority",
          )
          : o.description;
      }
      if (o.type === "verify_health") {
        // What the scale-out added is what it verifies: pre-flight found the rest running.
        next.depends_on = [
          ...depends_on,
          ...waits.map((w) => w.id),
          ...takeovers.map((w) => w.id),
          ...mongosConfigs.filter((c) => c.type === "upload_file").map((c) => c.id),
        ];
        const only = verifyOnly(
          o,
          (id) => addedIds.has(id),
          "Verify the new processes' health, and their sets' primaries",
        );
        next.description = only.description;
        next.target = only.target;
        next.target.params.shards = JSON.stringify(
          (JSON.parse(o.target.params.shards) as string[]).filter((s) => newSets.has(s)),
        );
      }
      if (o.type === "save_metadata") {
        next.description = "Save the cluster metadata with its new processes";
        next.changes = o.changes.map((c) => ({ ...c, action: "update" as const }));
      }
      return [next];
    });
  const phase = (name: string) => deploy.phases.find((p) => p.name === name)?.operations ?? [];
  const phases = added.length
    ? [
      {
        name: "prepare",
        description: "Binaries, secrets, directories and configuration of the new processes",
        ops: cut(phase("prepare")),
      },
      {
        name: "deploy",
        description: "Start the new mongod processes and wait until they answer",
        ops: cut(phase("deploy")),
      },
      {
        name: "initialize",
        description: "Add the new members to their replica sets (each waited for until " +
          "SECONDARY and caught up); initiate new shards, start new mongos, add the shards",
        ops: [...cut(phase("initialize")), ...waits, ...takeovers, ...mongosConfigs],
      },
      {
        name: "finalize",
        description: "Verify health, then record the new processes in the metadata",
        ops: cut(phase("finalize")),
      },
    ]
    : [];
  const plan = lifecyclePlan(
    input,
    "scale-out",
    phases,
    { errors: deploy.validation.errors, warnings: deploy.validation.warnings },
  );
  return {
    ...plan,
    // The plan says what the cluster will be: its release the recorded one, its topology grown.
    validation: {
      ...deploy.validation,
      warnings: [...deploy.validation.warnings, ...takeoverWarnings],
    },
    topology: deploy.topology,
    topology_file: deploy.topology_file,
    resources: deploy.resources,
  };
}
