/**
 * `mup cluster scale-in <name>`: processes taken out of a running cluster — replica set members
 * (shards' or the set's) and mongos. Each set that loses members removes them through its
 * primary, one replSetReconfig per member (remove_members; a primary to remove is stepped down
 * first), and a shard that goes whole is drained and removed through mongos (remove_shard);
 * then the removed processes are stopped, the rest of the cluster is verified healthy, the
 * metadata records the smaller topology, and the removed processes' directories go (their data
 * too, unless `--retain-data`). Config server members removed leave every mongos's
 * configuration written again without them. The last shard, every config server member or the
 * last mongos is refused. Pure.
 */
import * as path from "node:path";
import { hostKey, hostPort } from "../topology/hosts.ts";
import type { Topology } from "../topology/schema.ts";
import { droppedHostPorts } from "../topology/ssh_ports.ts";
import { processRemovals, removeOp } from "./destroy.ts";
import { clusterProcesses, EST, lifecyclePlan, type LifecyclePlanInput } from "./lifecycle.ts";
import { markedPhases, stopOp, verifyOp } from "./lifecycle_ops.ts";
import { MONGOS_QUIESCE_SECS } from "./quiesce.ts";
import { change, check, mongosConfigRewriteOps, op } from "./op_builders.ts";
import { recordedConfigs } from "./start_files.ts";
import { listProcesses, type ProcessSpec } from "./processes.ts";
import { steadyRemovalOrder } from "./implicit_write_concern.ts";
import type { Plan, PlannedOperation, ValidationIssue } from "./schema.ts";
import { hostCertPath, securityOf } from "../security/settings.ts";
import { formatDuration } from "../util/format.ts";
import { setRemovalIssues } from "./scale_in_sets.ts";
import { forgottenPaths, goneHostWarning, lostHostErrors, onGoneHost } from "./gone_hosts.ts";

export interface ScaleInPlanInput extends LifecyclePlanInput {
  /** The recorded topology without the entries to remove. */
  topology: Topology;
  /** Where the request came from: the topology file given, or "" for `-N` nodes. */
  topologyFile: string;
  /** The cluster's balancer is off (balancerStatus through a mongos): no shard would drain. */
  balancerOff?: boolean;
  /** `--wait-timeout` (ms), for the review to say how long a draining is waited for. */
  waitTimeoutMs?: number;
  /**
   * By replica set: whether a cluster-wide default write concern is set (getDefaultRWConcern;
   * absent or undefined: not asked, or no answer).
   */
  cwwcSet?: Record<string, boolean | undefined>;
}

const machine = (p: { host: string; port: number }) => `${hostKey(p.host)}:${p.port}`;

/** The recorded processes `topology` no longer has. */
export function removedProcesses(input: Pick<ScaleInPlanInput, "meta" | "deployDir" | "topology">) {
  const stays = new Set(listProcesses(input.topology, input.deployDir).map(machine));
  return listProcesses(input.meta.topology, input.deployDir).filter((p) => !stays.has(machine(p)));
}

/**
 * The members of `s` that go, down ones first, as remove_members takes them (the review's
 * order); among those, an order that keeps the set's implicit default write concern where the
 * given one would change it on the way (steadyRemovalOrder).
 */
function removalOrder(
  s: { members: ProcessSpec[] },
  gone: Set<string>,
  facts: ScaleInPlanInput["facts"],
): ProcessSpec[] {
  const down = (m: ProcessSpec) => Number(!!facts[m.id]?.running);
  return steadyRemovalOrder(
    s.members,
    s.members.filter((m) => gone.has(m.id)).sort((a, b) => down(a) - down(b)),
    down,
  );
}

/** Pure: the `cluster scale-in` Plan (no phases when the topology removes nothing). */
export function planScaleIn(input: ScaleInPlanInput): Omit<Plan, "content_hash"> {
  const { procs, sets } = clusterProcesses(input);
  const name = input.meta.name;
  const removed = removedProcesses(input);
  const gone = new Set(removed.map((p) => p.id));
  // Each set's members that go, in the order they leave: judged below and planned as such.
  const leaving = new Map(sets.map((s) => [s.name, removalOrder(s, gone, input.facts)]));
  const errors: ValidationIssue[] = [];
  const warnings: ValidationIssue[] = [];
  const refuse = (code: string, p: ProcessSpec, message: string) =>
    errors.push({ code, severity: "error", host: p.host, message });
  // On a --host-gone host nothing is done: its processes are forgotten, never stopped.
  const lost = (p: ProcessSpec) => onGoneHost(input.goneHosts, p.host);
  errors.push(...lostHostErrors(procs, sets, gone, lost, name));
  setRemovalIssues(input, sets, gone, leaving, errors, warnings);
  // Shards that go whole: drained through a mongos that stays, their databases' primaries
  // moved to the first shard that stays.
  const shards = sets.filter((s) => !s.configsvr);
  const goneShards = input.meta.kind === "sharded"
    ? shards.filter((s) => s.members.every((m) => gone.has(m.id)))
    : [];
  const stayingShards = shards.filter((s) => !goneShards.includes(s));
  const router = procs.find((p) => p.role === "mongos" && !gone.has(p.id));
  if (goneShards.length && !stayingShards.length) {
    refuse(
      "last_shard",
      goneShards[0].members[0],
      "every shard would go: a sharded cluster keeps at least one (that is `mup cluster " +
        `destroy ${name}\`)`,
    );
  }
  if (goneShards.length && input.balancerOff) {
    refuse(
      "balancer_off",
      goneShards[0].members[0],
      `the balancer is off, and removing ${goneShards.map((s) => s.name).join(", ")} needs it ` +
        'to move the chunks (MongoDB manual, "Remove Shards from a Sharded Cluster"): start ' +
        "it (sh.startBalancer()) and plan again",
    );
  }
  if (goneShards.length) {
    warnings.push({
      code: "shard_draining",
      severity: "warning",
      message: `removing ${
        goneShards.map((s) => s.name).join(", ")
      } drains its chunks to the other shards (the balancer moves them; the apply waits up to ${
        input.waitTimeoutMs === undefined
          ? "1h (--wait-timeout sets it)"
          : `${formatDuration(input.waitTimeoutMs)} (--wait-timeout)`
      }, and a resume goes on from where draining stands) ` +
        `and moves the primary of each database it holds to ${stayingShards[0]?.name}`,
    });
  }
  const mongos = procs.filter((p) => p.role === "mongos");
  if (mongos.length && mongos.every((p) => gone.has(p.id))) {
    refuse(
      "last_mongos",
      mongos[0],
      "every mongos would go: applications reach a sharded cluster only through mongos (to " +
        `move mongos elsewhere, add the new one first with \`mup cluster scale-out ${name}\`)`,
    );
  }
  // What stays is verified healthy at the end, through its primaries: it must run now.
  for (const p of procs.filter((p) => !gone.has(p.id) && !lost(p) && !input.facts[p.id]?.running)) {
    refuse(
      "not_running",
      p,
      `${hostPort(p.host, p.port)} is not running: a scale-in removes members through each ` +
        `set's primary and verifies the health of what stays (run \`mup cluster start ${name}\` ` +
        "first)",
    );
  }
  const removing = sets.flatMap((s) => {
    const out = leaving.get(s.name)!;
    if (!out.length || out.length === s.members.length) return [];
    return [op({
      id: `remove-members-${s.name}`,
      type: "remove_members",
      description: `Remove ${out.map((m) => hostPort(m.host, m.port)).join(", ")} from ` +
        `replica set ${s.name}${out.length > 1 ? " (one replSetReconfig each)" : ""}${
          // A primary cannot remove itself: it steps down first (remove_members does).
          out.filter((m) => input.facts[m.id]?.state === "PRIMARY").map((m) =>
            `; ${hostPort(m.host, m.port)}, its primary, steps down first`
          ).join("")}`,
      target: {
        type: "replica_set",
        name: s.name,
        host: s.members.find((m) => !gone.has(m.id))!.host,
        port: s.members.find((m) => !gone.has(m.id))!.port,
        params: {
          remove: JSON.stringify(out.map((m) => hostPort(m.host, m.port))),
          members: JSON.stringify(s.members.map((m) => hostPort(m.host, m.port))),
        },
        timeout_ms: 120_000,
      },
      pre_conditions: [check(
        `remove-members-${s.name}:stay`,
        "members_reachable",
        s.name,
        "every member that stays answers",
        {
          members: s.members.filter((m) => !gone.has(m.id)).map((m) => hostPort(m.host, m.port)),
        },
      )],
      changes: out.map((m) =>
        change("replica_set_member", `${s.name}/${hostPort(m.host, m.port)}`, "delete")
      ),
      depends_on: [],
      parallel: true,
      estimated_ms: EST.election,
    })];
  });
  const draining = router && stayingShards.length
    ? goneShards.map((s) =>
      op({
        id: `remove-shard-${s.name}`,
        type: "remove_shard",
        description: `Remove shard ${s.name}: drain its chunks to the other shards, move its ` +
          `databases' primaries to ${stayingShards[0].name}`,
        target: {
          type: "replica_set",
          name: s.name,
          host: router.host,
          port: router.port,
          params: { name: s.name, move_primary_to: stayingShards[0].name },
          timeout_ms: 3_600_000,
        },
        changes: [change("shard", s.name, "delete")],
        depends_on: [],
        parallel: false,
        estimated_ms: EST.election,
      })
    )
    : [];
  const goneShard = new Set(goneShards.map((s) => s.name));
  // A mongos taken out while others stay: clients move to them during its quiesce.
  const stops = removed.filter((p) => !lost(p)).map((p) =>
    stopOp(
      p,
      p.replicaSet && goneShard.has(p.replicaSet)
        ? [`remove-shard-${p.replicaSet}`]
        : p.replicaSet
        ? [`remove-members-${p.replicaSet}`]
        : [],
      false,
      undefined,
      p.role === "mongos" ? MONGOS_QUIESCE_SECS : undefined,
    )
  );
  // Config server members removed: every mongos that stays has its configuration file written
  // again without them (sharding.configDB; read at its next start, while a running mongos
  // follows the config server set's membership by itself), once the set no longer has them.
  const cfgSet = sets.find((s) => s.configsvr);
  const cfgShrunk = cfgSet?.members.some((m) => gone.has(m.id)) &&
    cfgSet.members.some((m) => !gone.has(m.id));
  const smallerConfigs = cfgShrunk
    ? recordedConfigs({ ...input.meta, topology: input.topology }, input.deployDir)
    : undefined;
  const mongosConfigs = smallerConfigs
    ? mongosConfigRewriteOps(
      procs.filter((p) => p.role === "mongos" && !gone.has(p.id)),
      smallerConfigs,
      {
        clusterDir: input.clusterDir,
        generate: (p) =>
          `Generate the configuration of ${p.id} without the removed config server members`,
        deps: [`remove-members-${cfgSet!.name}`],
      },
    )
    : [];
  const smaller = { ...input, meta: { ...input.meta, topology: input.topology } };
  const verify = verifyOp(smaller, [
    ...stops.map((o) => o.id),
    ...mongosConfigs.filter((o) => o.type === "upload_file").map((o) => o.id),
  ]);
  // A mongos that died meanwhile is no reason to leave the scale-in unfinished: its start is
  // refused until the metadata drops what the scale-in removed (its configuration file was
  // written without them), and the metadata records the status as found (partial).
  if (input.meta.kind === "sharded") verify.target.params.routers_optional = "true";
  const file = path.join(input.clusterDir, "meta.yaml");
  const kept = removed.filter((p) => p.role !== "mongos" && !lost(p)).map((p) => ({
    id: p.id,
    host: p.host,
    path: p.dirs.data,
  }));
  const record = op({
    id: "save-metadata",
    type: "save_metadata",
    description: "Save the cluster metadata without the removed processes",
    target: {
      type: "cluster",
      name,
      params: {
        path: file,
        // What --retain-data keeps stays recorded as the cluster's (save_metadata).
        ...(input.retainData && kept.length ? { retained_data: JSON.stringify(kept) } : {}),
        // And what --host-gone leaves on its host, as forgotten.
        ...(removed.some(lost)
          ? {
            forgotten: JSON.stringify(
              removed.filter(lost).map((p) => ({
                id: p.id,
                host: p.host,
                port: p.port,
                paths: forgottenPaths([p]),
              })),
            ),
          }
          : {}),
      },
    },
    changes: [change("file", file, "update")],
    depends_on: [verify.id],
    parallel: false,
    estimated_ms: EST.meta,
  });
  // Directories go last: what the metadata records is true before any file is removed. So do
  // the removed processes' TLS certificates and keys on their hosts (a CA-signed key left on a
  // decommissioned host would still be trusted by the cluster).
  const removes: PlannedOperation[] = [
    ...processRemovals(removed.filter((p) => !lost(p)), () => input.retainData === true).map((
      r,
    ) =>
      removeOp(r.host, r.dir, r.what, [...r.deps, record.id], r.mode, {
        retained: r.retained,
        inner: r.inner,
      })
    ),
    ...(securityOf(input.meta.topology).tls
      ? removed.filter((p) => !lost(p)).map((p) =>
        removeOp(
          p.host,
          hostCertPath(input.meta.deploy_dir, p.id),
          "TLS certificate and key",
          [record.id],
        )
      )
      : []),
  ];
  const phases = removed.length
    ? markedPhases(input, [
      {
        name: "remove-members",
        description: "Each set's primary removes the members that go, one replSetReconfig each; " +
          "a shard that goes whole is drained and removed through mongos" +
          (mongosConfigs.length
            ? "; each mongos's configuration is written without the removed config servers"
            : ""),
        ops: [...removing, ...draining, ...mongosConfigs],
      },
      { name: "stop", description: "Stop the removed processes", ops: stops },
      {
        name: "finalize",
        description: "Verify the health of what stays, then record it in the metadata",
        ops: [verify, record],
      },
      {
        name: "remove-files",
        description: input.retainData
          ? "Remove the removed processes' directories, their data kept (--retain-data)"
          : "Remove the removed processes' directories, their data included",
        ops: removes,
      },
    ])
    : [];
  // The review says where the kept data stays (the metadata records it: retained_data).
  if (input.retainData && kept.length) {
    warnings.push({
      code: "data_kept",
      severity: "warning",
      message: `data kept (--retain-data) in ${kept.length} director${
        kept.length === 1 ? "y" : "ies"
      }: ${
        kept.map((k) => `${k.host}:${k.path} (${k.id})`).join(", ")
      }; no member runs on it after the scale-in, and \`cluster display\` lists it`,
    });
  }
  for (const host of new Set(removed.filter(lost).map((p) => p.host))) {
    warnings.push(goneHostWarning(
      host,
      removed.filter((p) => p.host === host),
      "scale-in",
      input.meta.deploy_dir,
    ));
  }
  // The plan describes the cluster it leaves: its resources are the smaller topology's.
  const plan = lifecyclePlan(smaller, "scale-in", phases, { errors, warnings });
  const ports = droppedHostPorts(input.meta.topology, input.topology);
  return {
    ...plan,
    topology: input.topology,
    topology_file: input.topologyFile,
    ...(Object.keys(ports).length ? { ssh_ports: ports } : {}),
  };
}
