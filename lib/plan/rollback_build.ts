/**
 * Reads what `state rollback` needs (the apply state, its checkpoint, its plan, the cluster's
 * metadata), then calls the pure rollback planner. Not pure itself, like deploy.ts.
 */
import { MupError } from "../errors.ts";
import { acted, mayHaveActed } from "../state/undeployed.ts";
import { MARK_OP } from "./mark_op.ts";
import { holdsNothing } from "../preflight/clusters.ts";
import { baseStateOf, type ClusterMeta, readMeta } from "../state/meta.ts";
import { hostPort } from "../topology/hosts.ts";
import { recordedConfigs } from "./start_files.ts";
import type { ApplyState } from "../state/schema.ts";
import { checkpointProblem, readCheckpointState, rolledBackRef } from "../state/checkpoint_file.ts";
import { StateStore } from "../state/store.ts";
import * as path from "node:path";
import { measuredDurations } from "../preflight/measured.ts";
import { startAgainOps } from "./lifecycle_ops.ts";
import { planRollback } from "./rollback.ts";
import { droppedHostPorts } from "../topology/ssh_ports.ts";
import { allOperations, type Plan } from "./schema.ts";
import type { PlanStore } from "./store.ts";
import { guardStarts } from "./repair_files.ts";
import { listProcesses } from "./processes.ts";
import { estimateResources } from "./resources.ts";

/** What a scale-in cut off may have run and still be cancelled: it took nothing out. */
const CANCELLABLE = new Set([
  "step_down",
  "wait_for_primary",
  "wait_for_member_state",
  "wait_for_process",
  "verify_health",
]);

/**
 * Whether the scale-in apply `state` (of plan `plan`) took nothing out yet, so that a rollback
 * to its start cancels it: only step-downs, waits and checks ran, and a remove_members that did
 * not complete (the rollback checks, as it runs, that its set still lists the member).
 */
export function scaleInCancellable(
  state: Pick<ApplyState, "operation_states">,
  plan: Pick<Plan, "phases">,
): boolean {
  const types = new Map(allOperations(plan).map((o) => [o.id, o.type]));
  return !Object.values(state.operation_states).some((o) =>
    o.id !== MARK_OP && acted(o) && !CANCELLABLE.has(types.get(o.id) ?? "") &&
    !(types.get(o.id) === "remove_members" && o.status !== "completed")
  );
}

/** `start` names the state before the apply's first operation. */
export const START_CHECKPOINT = "start";

export async function buildRollbackPlan(req: {
  store: PlanStore;
  cluster: string;
  stateId?: string;
  checkpoint: string;
  dryRun?: boolean;
}): Promise<Omit<Plan, "content_hash">> {
  const clusterDir = req.store.clusterDir(req.cluster);
  const states = new StateStore(clusterDir);
  const id = req.stateId ?? await states.currentId();
  if (!id || !(await states.exists(id))) {
    throw new MupError(`cluster ${req.cluster} has no apply state${id ? ` ${id}` : ""}`, {
      hint: `\`mup state list ${req.cluster}\` shows the applies`,
    });
  }
  const state = await states.load(id);
  // Rolled back to a checkpoint before, what ran up to it is still in effect: a rollback to an
  // earlier checkpoint undoes that too (tester113 #1).
  let inEffect = state;
  if (state.status === "rolled_back") {
    const to = state.rolled_back_to;
    const ref = rolledBackRef(state);
    const earlier = ref
      ? [
        START_CHECKPOINT,
        ...state.checkpoints.slice(0, state.checkpoints.indexOf(ref)).map((c) => c.id),
      ]
      : [];
    if (!earlier.includes(req.checkpoint)) {
      throw new MupError(
        `apply ${id} was already rolled back${to ? ` to ${to}` : ""}`,
        {
          hint: earlier.length
            ? `only a checkpoint before ${to} is left to roll back to: ${earlier.join(", ")}`
            : `nothing of it is left to undo: \`mup cluster display ${req.cluster}\` shows the ` +
              `cluster as it is, \`mup state list ${req.cluster}\` the applies`,
        },
      );
    }
    inEffect = await readCheckpointState(ref!, {
      cluster: req.cluster,
      stateId: id,
      usable: () => Promise.resolve(earlier),
    });
  }
  if (state.operation === "rollback") {
    throw new MupError(`apply ${id} is itself a rollback; roll back the apply it undid instead`, {
      hint: "`mup state list " + req.cluster + "` shows the applies; give --state-id",
    });
  }
  // A TLS switch replaces every configuration file and moves tlsMode at runtime, neither of
  // which a rollback can put back: the opposite command is the way back.
  if (state.operation === "tls-enable" || state.operation === "tls-disable") {
    const back = state.operation === "tls-enable" ? "disable" : "enable";
    throw new MupError(
      `apply ${id} (${state.operation}) cannot be rolled back: it replaced every configuration ` +
        "file and changed tlsMode at runtime",
      {
        hint: `\`mup plan resume ${req.cluster}\` completes it; then ` +
          `\`mup cluster tls ${req.cluster} ${back}\` switches TLS back, without stopping the cluster`,
      },
    );
  }
  // A reconfigure replaced configuration files that members read at their restart, members'
  // options in their sets, or the cluster-wide default write concern: the way back is a
  // reconfigure to the old settings.
  if (state.operation === "reconfigure") {
    throw new MupError(
      `apply ${id} (reconfigure) cannot be rolled back: it replaced configuration files and ` +
        "restarted members onto them, changed members' options in their sets, or set the " +
        "cluster-wide default write concern (setDefaultRWConcern)",
      {
        hint: `${
          state.status === "completed"
            ? ""
            : `\`mup plan resume ${req.cluster}\` completes it; then `
        }\`mup cluster reconfigure ${req.cluster} <topology with the old settings>\` goes ` +
          "back, without stopping the cluster",
      },
    );
  }
  // An upgrade restarts members on new binaries and may raise the FCV: undoing its install would
  // remove binaries members run, and nothing would restart them on the old ones.
  if (state.operation === "upgrade") {
    throw new MupError(
      `apply ${id} (upgrade) cannot be rolled back: what it installed may be the binaries the ` +
        "members run now (and a raised feature compatibility version cannot be lowered with " +
        "them); going back to the old release is a downgrade, which mup cannot do yet",
      {
        hint:
          `an upgrade that stopped part way is finished by \`mup plan resume ${req.cluster}\`; ` +
          "the old release's binaries stay installed beside the new ones",
      },
    );
  }
  // An older apply that later ones replaced: its plan no longer describes the cluster (a later
  // apply may have restarted, stopped or redeployed what it would undo), as for a resume. Only
  // before a first deploy is recorded does each attempt keep what it did itself (below).
  // Found without the current-apply.json link (lost or damaged) by the states' own records:
  // one of those that cannot be read may be the newest, so nothing older is rolled back.
  const newest = await states.newest();
  if (newest.from === "records" && newest.unreadable.length && await readMeta(clusterDir)) {
    throw new MupError(
      `cannot tell whether apply ${id} is the newest of cluster ${req.cluster}: ${
        newest.pointerProblem ?? `${states.pointerPath} is missing`
      }, and ${newest.unreadable.map((u) => u.file).join(", ")} cannot be read; refusing to ` +
        "roll it back",
      {
        hint: "restore the damaged state files from a backup, or move them away if those " +
          `applies are known to be older; \`mup state list ${req.cluster}\` shows the states`,
      },
    );
  }
  const current = newest.id;
  if (current && current !== id && await readMeta(clusterDir)) {
    throw new MupError(
      `apply ${id} of cluster ${req.cluster} was replaced by a later apply, ${current}: its plan ` +
        "no longer describes the cluster; refusing to roll it back",
      {
        hint: `\`mup state rollback ${req.cluster} --checkpoint ${START_CHECKPOINT}\` rolls back ` +
          `the latest apply, ${current} (\`mup state checkpoints ${req.cluster}\` lists its ` +
          `other checkpoints); \`mup cluster stop ${req.cluster}\` or \`mup cluster destroy ` +
          `${req.cluster}\` stops or removes the cluster`,
      },
    );
  }
  let cpState: ApplyState | undefined;
  if (req.checkpoint !== START_CHECKPOINT) {
    const ref = state.checkpoints.find((c) => c.id === req.checkpoint);
    if (!ref) {
      throw new MupError(`apply ${id} has no checkpoint "${req.checkpoint}"`, {
        hint: `its checkpoints: ${
          [START_CHECKPOINT, ...state.checkpoints.map((c) => c.id)].join(", ")
        } (\`mup state checkpoints ${req.cluster}\`)`,
      });
    }
    const usable = async () => {
      const ok = [START_CHECKPOINT];
      for (const c of state.checkpoints) {
        if (c.id !== ref.id && !(await checkpointProblem(c))) ok.push(c.id);
      }
      return ok;
    };
    cpState = await readCheckpointState(ref, { cluster: req.cluster, stateId: id, usable });
  }
  const { plan: original } = await req.store.loadOfApply(state);
  // A scale-in takes members out of their sets: a member taken out comes back by a scale-out
  // (it copies its set's data again), not by starting it. One cut off before anything left
  // (only step-downs and waits ran, and replSetReconfigs that may not have, tester103 #2) is
  // cancelled: its rollback checks, as it runs, that each set still lists those members.
  if (state.operation === "scale-in") {
    if (!scaleInCancellable(state, original)) {
      throw new MupError(
        `apply ${id} (scale-in) cannot be rolled back: members it takes out of their sets come ` +
          "back by a scale-out, which adds them again and lets them copy their set's data",
        {
          hint: `${
            state.status === "completed"
              ? ""
              : `\`mup plan resume ${req.cluster}\` completes it (or the same scale-in again); then `
          }\`mup cluster scale-out ${req.cluster} <topology>\` adds members again`,
        },
      );
    }
  }
  // A scale-out that finished recorded its processes (a scale-in takes them out); one that
  // added a shard cannot be undone (removeShard drains data). One cut off before either is
  // undone: the members it added taken out of their sets, what it started stopped, what it made
  // removed, the metadata never having listed them.
  if (state.operation === "scale-out") {
    const ops = original.phases.flatMap((ph) => ph.operations);
    const done = (type: string) =>
      ops.some((o) => o.type === type && state.operation_states[o.id]?.status === "completed");
    // An addShard sent and then cut off (or failed on a lost connection) may have registered
    // the shard: only one that failed having changed nothing (a server's refusal) did not.
    const sent = ops.filter((o) => o.type === "add_shard").find((o) =>
      state.operation_states[o.id]?.status !== "completed" &&
      mayHaveActed(state.operation_states[o.id])
    );
    if (state.status === "completed" || done("save_metadata") || done("add_shard") || sent) {
      throw new MupError(
        `apply ${id} (scale-out) cannot be rolled back: ${
          done("add_shard")
            ? "it added a shard to the cluster (removeShard drains its data, which a rollback " +
              "does not do)"
            : sent
            ? `its addShard of ${sent.target.name} was sent and did not finish: the config ` +
              "servers may list that shard already, and databases may be placed on it " +
              "(removeShard drains its data, which a rollback does not do)"
            : "it recorded its processes in the metadata"
        }`,
        {
          hint: `${
            state.status === "completed"
              ? ""
              : `\`mup plan resume ${req.cluster}\` completes it, once what stopped it is ` +
                `fixed (\`mup cluster display ${req.cluster}\` repeats what its failure ` +
                "named); then "
          }\`mup cluster scale-in ${req.cluster} -N host:port\` takes members or mongos out again`,
        },
      );
    }
  }
  const meta = await readMeta(clusterDir);
  if (cpState) refuseUnrecordedBefore(req.cluster, id, req.checkpoint, original, cpState, meta);
  const plan = planRollback({
    planId: `plan-${crypto.randomUUID().slice(0, 8)}`,
    createdAt: new Date().toISOString(),
    original,
    state: inEffect,
    checkpoint: { id: req.checkpoint, state: cpState },
    stateDir: states.dir,
    baseState: baseStateOf(meta),
    // Where lifecycle_build.ts puts the deploy root, so the starts match the ones `start` plans.
    startAgain: meta ? startAgainOps(meta, path.join(clusterDir, "deploy")) : {},
    recordedConfigs: meta
      ? Object.fromEntries(recordedConfigs(meta, path.join(clusterDir, "deploy")))
      : {},
    hooks: original.hooks,
    dryRun: req.dryRun,
    measured: await measuredDurations(req.store, req.cluster, original.topology),
  });
  // Cancelled, a scale-in leaves the recorded cluster, every member kept (tester107 #5).
  if (state.operation === "scale-in" && meta) {
    plan.topology = meta.topology;
    plan.resources = estimateResources(
      listProcesses(meta.topology, original.deploy_dir),
      plan.release,
    );
  }
  // Undone, a scale-out leaves the recorded cluster: what the rollback's outcome says it is.
  if (state.operation === "scale-out" && meta) {
    plan.topology = meta.topology;
    // Its new hosts are still reached, to stop and remove what it started there.
    const ports = droppedHostPorts(original.topology, meta.topology);
    if (Object.keys(ports).length) plan.ssh_ports = ports;
  }
  // A start it plans (undoing a stop) must not bring a member back on data that is gone.
  if (meta) guardStarts(plan, listProcesses(meta.topology, path.join(clusterDir, "deploy")));
  // Before a first deploy completed, each attempt holds what it did itself: rolling one back
  // leaves what an earlier attempt started or made (an operation it found in place is not its).
  if (!meta && state.operation === "deploy") {
    const others = (await states.list().catch(() => [] as ApplyState[])).filter((s) =>
      s.state_id !== id && s.operation === "deploy" && !holdsNothing(s)
    );
    for (const o of others) {
      plan.validation.warnings.push({
        code: "earlier_attempt",
        severity: "warning",
        message: `apply ${o.state_id} (an earlier deploy, ${o.status}) keeps what it started and ` +
          `made: \`mup state rollback ${req.cluster} --state-id ${o.state_id} --checkpoint start\` ` +
          `undoes it too, or \`mup cluster destroy ${req.cluster}\` removes what every attempt left`,
      });
    }
  }
  return plan;
}

/**
 * Refuses a rollback to checkpoint `checkpoint` of a deploy or scale-out (apply `id`) when
 * processes it started before that checkpoint are not in the metadata (`meta`, undefined before a
 * first deploy is recorded; a first deploy's own is undone with it): the rollback keeps what ran before its checkpoint, and ends the
 * apply, so they would run on with nothing that records, lists or stops them (tester41 H1).
 * Throws a MupError naming them, with `start` and the resume as the ways forward.
 */
function refuseUnrecordedBefore(
  cluster: string,
  id: string,
  checkpoint: string,
  original: Plan,
  cpState: ApplyState,
  meta: ClusterMeta | undefined,
): void {
  // A first deploy's metadata is its own doing, undone by the rollback: nothing stays recorded.
  const recorded = new Set(
    meta && original.base_state.lineage !== ""
      ? listProcesses(meta.topology, original.deploy_dir).map((p) => p.id)
      : [],
  );
  const kept = original.phases.flatMap((ph) => ph.operations).filter((o) =>
    o.type === "start_process" && cpState.operation_states[o.id]?.status === "completed" &&
    !recorded.has(o.target.name)
  ).map((o) => hostPort(o.target.host!, o.target.port!));
  if (!kept.length) return;
  throw new MupError(
    `rolling apply ${id} (${original.operation}) back to checkpoint ${checkpoint} would leave ` +
      `${kept.join(", ")} running: ${
        kept.length === 1 ? "it was" : "they were"
      } started before that checkpoint, and the metadata does not record ${
        kept.length === 1 ? "it" : "them"
      }, so nothing would list, stop or remove ${kept.length === 1 ? "it" : "them"} afterwards`,
    {
      hint: `\`mup state rollback ${cluster} --checkpoint ${START_CHECKPOINT}\` undoes the whole ` +
        `${original.operation} (it stops and removes what it started); \`mup plan resume ` +
        `${cluster}\` completes it instead`,
    },
  );
}
