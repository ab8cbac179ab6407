/**
 * `mup state rollback <cluster> --checkpoint <id>`: a Plan that undoes, in reverse dependency
 * order, what an apply did after a checkpoint: it stops the processes the apply started, starts
 * again the processes it stopped (a stop and a start of the same process both after the
 * checkpoint, as in a restart, cancel out) and removes the directories and files it created;
 * a cluster that stays recorded has its status recorded again as found. What cannot be undone
 * (an initiated replica set, an added shard, a step-down, removed files) is named in the plan's
 * warnings, never silently skipped. Only operations whose work actually ran are undone: one that
 * found its effect "already in place" changed nothing. Pure: the states were read before.
 */
import * as path from "node:path";
import type { Hook } from "../hooks/schema.ts";
import type { ApplyState } from "../state/schema.ts";
import { change, op } from "./op_builders.ts";
import { EST } from "./lifecycle.ts";
import { MUP_VERSION } from "./planner.ts";
import { formatDuration } from "../util/format.ts";
import { applyMeasured, type MeasuredDurations, phaseEstimate } from "./estimates.ts";
import { securityOf } from "../security/settings.ts";
import { layoutParents } from "../topology/layout.ts";
import { listProcesses } from "./processes.ts";
import { keptIn, type KeptInData, stillInData } from "./rollback_kept_data.ts";
import { type UndoContext, undoOps } from "./rollback_undo.ts";
import {
  allOperations as allOps,
  type BaseState,
  type Plan,
  type PlannedOperation,
  type ValidationIssue,
} from "./schema.ts";

export interface RollbackPlanInput {
  planId: string;
  createdAt: string;
  /** The plan of the apply being rolled back. */
  original: Plan;
  /** That apply's state now. */
  state: ApplyState;
  /** Its checkpoint's state ("start": before anything ran). */
  checkpoint: { id: string; state?: ApplyState };
  /** The cluster's state directory (where the rolled-back apply lives). */
  stateDir: string;
  baseState: BaseState;
  hooks: Hook[];
  dryRun?: boolean;
  /**
   * How to start each recorded process again, by process id (a start, then a wait; see
   * lifecycle_ops.ts startAgainOps): what undoes a stop. Empty when the cluster is not recorded.
   */
  startAgain?: Record<string, PlannedOperation[]>;
  /** Durations measured on the cluster's hosts: estimates where they exist (estimates.ts). */
  measured?: MeasuredDurations;
  /**
   * The configuration of each recorded process as the metadata describes it, by process id
   * (start_files.ts recordedConfigs): what undoes a configuration written again (a mongos's,
   * when a scale-out added config server members). Empty when the cluster is not recorded.
   */
  recordedConfigs?: Record<string, string>;
}

/** Pure: the rollback Plan. */
export function planRollback(input: RollbackPlanInput): Omit<Plan, "content_hash"> {
  const { original, state } = input;
  const doneBefore = new Set(
    Object.values(input.checkpoint.state?.operation_states ?? {})
      .filter((s) => s.status === "completed" || s.status === "skipped").map((s) => s.id),
  );
  // A failure recorded as having changed nothing (a refused replSetInitiate) did not run.
  const noEffect = (id: string) =>
    state.operation_states[id]?.status === "failed" &&
    state.operation_states[id]?.result?.metadata?.no_effect === true;
  const ran = (id: string) =>
    (state.operation_states[id]?.executions ?? 0) > 0 && !doneBefore.has(id) && !noEffect(id);
  const warnings: ValidationIssue[] = [];
  const unrecord: PlannedOperation[] = [];
  const phases = [];
  const ranOfType = (type: string) =>
    new Set(allOps(original).filter((o) => o.type === type && ran(o.id)).map((o) => o.target.name));
  // A stop cancels out only against a start that completed: a start that ran and failed left
  // the process stopped, so the stop is undone (started again) like any other.
  const started = new Set(
    [...ranOfType("start_process")].filter((name) =>
      allOps(original).some((o) =>
        o.type === "start_process" && o.target.name === name &&
        state.operation_states[o.id]?.status === "completed"
      )
    ),
  );
  // A start cut off while it ran (mup killed) after its process's stop completed may have
  // brought the process back: it is not stopped again, and the stop's undo, a start, finds it
  // running (tester103 #3: the rollback bounced a healthy member).
  const cutOff = new Set(
    allOps(original).filter((o) =>
      o.type === "start_process" && ran(o.id) &&
      state.operation_states[o.id]?.status === "running" &&
      allOps(original).some((s) =>
        s.type === "stop_process" && s.target.name === o.target.name && ran(s.id) &&
        state.operation_states[s.id]?.status === "completed"
      )
    ).map((o) => o.target.name),
  );
  const ctx: UndoContext = {
    cutOffStarts: cutOff,
    fresh: original.base_state.lineage === "",
    startAgain: input.startAgain ?? {},
    // A stop that found its process already down (it died after the plan was made, tester72)
    // counts too: the plan's start then brought back what ran when it was planned, which a
    // rollback must not take down again.
    cancelled: new Set(
      allOps(original).filter((o) =>
        o.type === "stop_process" && !doneBefore.has(o.id) && !noEffect(o.id) &&
        (ran(o.id) || state.operation_states[o.id]?.status === "completed")
      ).map((o) => o.target.name).filter((n) => started.has(n)),
    ),
    recorded: Object.fromEntries(
      Object.values(state.operation_states).map((st) => [st.id, st.result?.metadata]),
    ),
    recordedConfigs: input.recordedConfigs ?? {},
    ops: new Map(allOps(original).map((o) => [o.id, o])),
    checks: [],
    cluster: original.cluster_name,
    completed: new Set(
      Object.values(state.operation_states).filter((s) => s.status === "completed").map((s) =>
        s.id
      ),
    ),
  };
  // Sets it initiated, users it created: said to stay only where their data stays (below).
  const inData: KeptInData[] = [];
  for (const ph of [...original.phases].reverse()) {
    const undone = new Map<string, PlannedOperation[]>();
    for (const o of ph.operations.filter((x) => ran(x.id))) {
      const u = undoOps(o, ctx);
      if (typeof u === "string" && (o.type === "init_replica_set" || o.type === "create_user")) {
        inData.push(keptIn(o, `not undone: ${u}`));
      } else if (typeof u === "string") {
        warnings.push({ code: "irreversible", severity: "warning", message: `not undone: ${u}` });
      } else if (o.type === "save_metadata") {
        unrecord.push(...u); // last: the record goes once nothing of the cluster runs
      } else if (u.length) undone.set(o.id, u);
    }
    // undo(A) waits for the undo of every nearest undone operation that depended on A.
    const children = new Map<string, string[]>();
    for (const o of ph.operations) {
      for (const d of o.depends_on) children.set(d, [...(children.get(d) ?? []), o.id]);
    }
    const nearest = (id: string, seen = new Set<string>()): string[] =>
      (children.get(id) ?? []).flatMap((c) => {
        if (seen.has(c)) return [];
        seen.add(c);
        return undone.has(c) ? undone.get(c)!.map((x) => x.id) : nearest(c, seen);
      });
    const ops: PlannedOperation[] = [];
    for (const [id, us] of undone) {
      const deps = [...new Set(nearest(id))];
      for (const u of us) ops.push({ ...u, depends_on: [...deps, ...u.depends_on] });
    }
    phases.push({
      name: `undo-${ph.name}`,
      ops: inRunOrder(ops),
      description: `Undo the ${ph.name} phase`,
    });
  }
  warnings.push(...stillInData(inData, phases.flatMap((p) => p.ops), original));
  // The layout's parent directories (bin, data, logs, conf under the deploy root, then the
  // root), on hosts where directories were removed, go too if nothing else is in them.
  const tidy: PlannedOperation[] = [];
  const hosts = new Set(
    phases.flatMap((p) => p.ops).filter((o) => o.type === "remove_directory").map((o) =>
      o.target.host!
    ),
  );
  const procs = listProcesses(original.topology, original.deploy_dir);
  // A host where a process stays (a scale-out's rollback on the cluster's own hosts) keeps its
  // layout: no "remove if empty" of directories it uses (tester72).
  const removed = new Set(
    phases.flatMap((p) => p.ops).filter((o) => o.type === "remove_directory").map((o) =>
      `${o.target.host}\0${path.resolve(o.target.params.path)}`
    ),
  );
  const stays = (p: (typeof procs)[number]) =>
    !Object.values(p.dirs).some((d) =>
      typeof d === "string" && removed.has(`${p.host}\0${path.resolve(d)}`)
    );
  for (const host of hosts) {
    if (procs.some((p) => p.host === host && stays(p))) continue;
    const root = original.deploy_dir;
    const sec = securityOf(original.topology);
    const parents = [
      ...layoutParents(root, procs.filter((p) => p.host === host).map((p) => p.dirs)),
      ...(sec.auth || sec.tls ? [path.join(root, "secrets")] : []),
    ];
    for (const dir of [...parents, root]) {
      tidy.push(op({
        id: `tidy-${host}-${dir}`,
        type: "remove_directory",
        description: `Remove ${host}:${dir} if empty`,
        target: { type: "host", name: host, host, params: { path: dir, if_empty: "true" } },
        changes: [change("directory", `${host}:${dir}`, "delete")],
        // Deepest first: a directory waits for those inside it.
        depends_on: [...parents, root].filter((d) => d.startsWith(dir + path.sep)).map((d) =>
          `tidy-${host}-${d}`
        ),
        estimated_ms: EST.remove,
      }));
    }
  }
  // A cluster that stays recorded gets its status recorded as found, so the metadata never
  // claims what the rollback changed (a stop undone is running again).
  const recorded = input.baseState.lineage !== "" && unrecord.length === 0;
  const metaFile = path.join(path.dirname(input.stateDir), "meta.yaml");
  const rerecord = recorded
    ? [op({
      id: "update-metadata",
      type: "update_metadata",
      description: "Record cluster status",
      target: {
        type: "cluster",
        name: original.cluster_name,
        params: { path: metaFile, status: "auto" },
      },
      changes: [change("file", metaFile, "update")],
      depends_on: tidy.map((o) => o.id),
      // Checked before the status is recorded too, so that a failed check records nothing.
      pre_conditions: ctx.checks,
      parallel: false,
      estimated_ms: EST.meta,
    })]
    : [];
  phases.push({
    name: "finalize",
    description: "Mark the apply rolled back",
    ops: [
      ...tidy,
      ...unrecord,
      ...rerecord,
      op({
        id: "mark-rolled-back",
        type: "mark_rolled_back",
        description: `Mark apply ${state.state_id} rolled back to ${input.checkpoint.id}`,
        target: {
          type: "cluster",
          name: original.cluster_name,
          params: {
            state_id: state.state_id,
            state_dir: input.stateDir,
            checkpoint: input.checkpoint.id,
          },
        },
        depends_on: [...tidy, ...unrecord, ...rerecord].map((o) => o.id),
        pre_conditions: ctx.checks,
        parallel: false,
        estimated_ms: EST.meta,
      }),
    ],
  });
  const kept = phases.filter((p) => p.ops.length);
  // The estimates of this plan's own operations, not of the plan it undoes.
  // Nor the request (-N, -R) of the plan it undoes: hints that make this plan again name a
  // rollback's own flags (command_of.ts; tester107 #7).
  const { content_hash: _hash, estimate_source: _source, request: _request, ...base } = original;
  const estimateSource = input.measured
    ? applyMeasured(kept.flatMap((p) => p.ops), input.measured)
    : undefined;
  return {
    ...base,
    plan_id: input.planId,
    operation: "rollback",
    created_at: input.createdAt,
    mup_version: MUP_VERSION,
    validation: { valid: true, errors: [], warnings, checks: [] },
    phases: kept.map((p, i) => ({
      name: p.name,
      description: p.description,
      order: i + 1,
      operations: p.ops,
      estimated_duration: formatDuration(phaseEstimate(p.ops)),
    })),
    hooks: input.hooks,
    base_state: input.baseState,
    dry_run: input.dryRun ?? false,
    environment: {},
    ...(estimateSource ? { estimate_source: estimateSource } : {}),
  };
}

/**
 * `ops` listed so that each comes after those of `ops` it depends on (the order the review
 * shows them in), otherwise as given: a file's removal before its directory's. Linear in the
 * operations times the longest chain.
 */
function inRunOrder(ops: PlannedOperation[]): PlannedOperation[] {
  const ids = new Set(ops.map((o) => o.id));
  const placed = new Set<string>();
  const out: PlannedOperation[] = [];
  let left = ops;
  while (left.length) {
    const ready = left.filter((o) => o.depends_on.every((d) => !ids.has(d) || placed.has(d)));
    // A cycle cannot come from undoOps; were it there, the graph's own check names it.
    const next = ready.length ? ready : left;
    for (const o of next) placed.add(o.id);
    out.push(...next);
    left = left.filter((o) => !placed.has(o.id));
  }
  return out;
}
