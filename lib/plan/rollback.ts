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
import { hostPort } from "../topology/hosts.ts";
import * as path from "node:path";
import type { Hook } from "../hooks/schema.ts";
import type { ApplyState } from "../state/schema.ts";
import { change, op } from "./op_builders.ts";
import { EST } from "./lifecycle.ts";
import { MUP_VERSION } from "./planner.ts";
import { formatDuration } from "../util/format.ts";
import { applyMeasured, type MeasuredDurations } from "./estimates.ts";
import { securityOf } from "../security/settings.ts";
import { layoutParents } from "../topology/layout.ts";
import { listProcesses } from "./processes.ts";
import { keptIn, type KeptInData, stillInData } from "./rollback_kept_data.ts";
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

interface UndoContext {
  /** The apply was a first deploy: undoing its save_metadata unrecords the cluster. */
  fresh: boolean;
  startAgain: Record<string, PlannedOperation[]>;
  /** Processes both stopped and started after the checkpoint: nothing to undo for either. */
  cancelled: Set<string>;
  /** What each operation's run recorded (its outcome's metadata), by operation ID. */
  recorded: Record<string, Record<string, unknown> | undefined>;
  recordedConfigs: Record<string, string>;
  /** The rolled-back plan's operations, by ID. */
  ops: Map<string, PlannedOperation>;
}

/** An upload that wrote a recorded process's configuration again (change "update"). */
const rewrites = (o: PlannedOperation) =>
  o.type === "upload_file" && o.target.type === "process" &&
  o.changes.some((c) => c.action === "update");

/**
 * Operations that reverse one operation's effect ([] when it has none to reverse; their
 * depends_on lists only dependencies among themselves), or why it cannot be reversed.
 */
function undoOps(o: PlannedOperation, ctx: UndoContext): PlannedOperation[] | string {
  const t = o.target;
  const fresh = ctx.fresh;
  const remove = (suffix: string, host: string, path: string, what: string) =>
    op({
      id: `undo-${o.id}${suffix}`,
      type: "remove_directory",
      description: `Remove ${what} ${host}:${path} (created by ${o.id})`,
      target: { type: "host", name: host, host, params: { path } },
      changes: [change(what === "file" ? "file" : "directory", `${host}:${path}`, "delete")],
      depends_on: [],
      estimated_ms: EST.remove,
    });
  switch (o.type) {
    case "start_process":
      if (ctx.cancelled.has(t.name)) return [];
      return [op({
        id: `undo-${o.id}`,
        type: "stop_process",
        description: `Stop ${hostPort(t.host!, t.port!)} (started by ${o.id})`,
        target: {
          ...t,
          params: {
            pid_file: t.params.pid_file,
            ...(t.params.config ? { config: t.params.config } : {}),
            force: "true",
          },
        },
        changes: [change("process", t.name, "stop")],
        depends_on: [],
        estimated_ms: EST.stop,
      })];
    case "create_directory": {
      // Only what the run made: a directory that was there before (a data_dir the user
      // pointed at, data a destroy --retain-data kept) stays, whatever is in it.
      const created = ctx.recorded[o.id]?.created;
      if (Array.isArray(created)) {
        return (created as string[]).toReversed().map((p, i) =>
          remove(`-${i + 1}`, t.host!, p, "directory")
        );
      }
      // Recorded by an older mup, which did not say what it made: removed only if empty.
      return (JSON.parse(t.params.paths) as string[]).reverse().map((p, i) => {
        const r = remove(`-${i + 1}`, t.host!, p, "directory");
        r.target.params.if_empty = "true";
        r.description = `Remove ${t.host}:${p} if empty (made by ${o.id}, or there before)`;
        return r;
      });
    }
    case "upload_file": {
      if (rewrites(o)) {
        // The configuration it replaced is written back, as the metadata describes it.
        const content = ctx.recordedConfigs[t.name];
        const gen = o.depends_on.map((d) => ctx.ops.get(d)).find((d) =>
          d?.type === "generate_config"
        );
        if (content === undefined || !gen) {
          return `${o.id}: ${t.name}'s configuration ${t.host}:${t.params.dest} stays as ` +
            "written (the one it replaced is not recorded)";
        }
        const again = `undo-${gen.id}`;
        return [
          {
            ...gen,
            id: again,
            description: `Generate ${t.name}'s recorded configuration again (replaced by ${o.id})`,
            target: { ...gen.target, params: { ...gen.target.params, content } },
            depends_on: [],
          },
          {
            ...o,
            id: `undo-${o.id}`,
            description: `Put ${t.name}'s recorded configuration back on ${t.host}`,
            depends_on: [again],
          },
        ];
      }
      return t.params.kind === "binaries"
        ? [remove("", t.host!, t.params.dest_dir, "binaries")]
        : [remove("", t.host!, t.params.dest, "file")];
    }
    case "generate_config": {
      // A configuration written again is put back by its upload's undo, which stages it anew.
      const upload = [...ctx.ops.values()].find((u) => u.depends_on.includes(o.id) && rewrites(u));
      if (upload) return [];
      return [remove("", "localhost", t.params.staged_path, "file")];
    }
    case "init_replica_set":
      return `${o.id}: the replica set ${t.name} stays initiated on its members' data ` +
        "(undone only when their data directories are removed)";
    case "add_shard":
      return `${o.id}: shard ${t.name} stays registered on the config servers ` +
        "(removeShard drains data and is not run by a rollback)";
    case "save_metadata":
      // A first deploy recorded the cluster: undone, it is no longer recorded. A re-deploy
      // replaced earlier metadata, which is not kept to restore.
      return fresh
        ? [op({
          id: `undo-${o.id}`,
          type: "update_metadata",
          description: `Remove the cluster metadata (written by ${o.id})`,
          target: { ...t, params: { path: t.params.path, status: "removed" } },
          changes: [change("file", t.params.path, "delete")],
          depends_on: [],
          parallel: false,
          estimated_ms: EST.meta,
        })]
        : `${o.id}: the metadata it recorded replaced the earlier one, which is not kept`;
    case "stop_process": {
      if (ctx.cancelled.has(t.name)) return [];
      const again = ctx.startAgain[t.name];
      if (!again) {
        return `${o.id}: ${t.name} is not in the cluster's metadata, so it is not started again`;
      }
      const [start, ...waits] = again;
      return [
        { ...start, id: `undo-${o.id}`, description: `${start.description} (stopped by ${o.id})` },
        ...waits.map((w, i) => ({
          ...w,
          id: `undo-${o.id}-wait${i ? `-${i + 1}` : ""}`,
          depends_on: [`undo-${o.id}`],
        })),
      ];
    }
    case "step_down":
      // Pure: whether the set's priorities moved the primary back since is not known here.
      return `${o.id}: the step-down of ${t.name} is not undone (a rollback does not move a ` +
        "primary; the set's priorities may have moved it back already)";
    case "remove_directory":
      return `${o.id}: ${t.host}:${t.params.path} was removed; a rollback cannot bring it back`;
    case "update_metadata":
      // The status is recorded again, as found, once the rollback has run (see planRollback).
      return [];
    case "generate_secret":
      return `${o.id}: the secret stays in the cluster's secrets store (a new deploy reuses it)`;
    case "create_user":
      return `${o.id}: the user stays in the members' data ` +
        "(undone only when their data directories are removed)";
    case "set_parameter":
      return `${o.id}: ${t.params.name} stays ${t.params.value} until ${t.name} restarts ` +
        "(tlsMode only moves towards requireTLS at runtime)";
    case "add_members": {
      // The members it added leave the set again (a rollback of a scale-out cut off before it
      // recorded them; rollback_build.ts refuses the others).
      const add = (JSON.parse(t.params.add) as { host: string }[]).map((m) => m.host);
      const members = [...JSON.parse(t.params.members) as string[], ...add];
      return [op({
        id: `undo-${o.id}`,
        type: "remove_members",
        description: `Remove ${add.join(", ")} from replica set ${t.name} (added by ${o.id})`,
        target: {
          ...t,
          params: { remove: JSON.stringify(add), members: JSON.stringify(members) },
        },
        changes: add.map((h) => change("replica_set_member", `${t.name}/${h}`, "delete")),
        depends_on: [],
        estimated_ms: EST.election,
      })];
    }
    case "remove_shard":
      return `${o.id}: shard ${t.name} stays removed (a scale-out adds a shard again)`;
    case "remove_members":
      return `${o.id}: the members stay out of the set's config (adding them is a scale-out)`;
    case "download_binary":
      return []; // the download cache is shared by every cluster: kept
    case "wait_for_process":
    case "verify_health":
    case "wait_for_primary":
    case "wait_for_member_state":
      return []; // read-only
    default:
      return `${o.id}: a ${o.type} operation cannot be undone by a rollback`;
  }
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
  const ctx: UndoContext = {
    fresh: original.base_state.lineage === "",
    startAgain: input.startAgain ?? {},
    cancelled: new Set([...ranOfType("stop_process")].filter((n) => started.has(n))),
    recorded: Object.fromEntries(
      Object.values(state.operation_states).map((st) => [st.id, st.result?.metadata]),
    ),
    recordedConfigs: input.recordedConfigs ?? {},
    ops: new Map(allOps(original).map((o) => [o.id, o])),
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
    phases.push({ name: `undo-${ph.name}`, ops, description: `Undo the ${ph.name} phase` });
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
  for (const host of hosts) {
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
        parallel: false,
        estimated_ms: EST.meta,
      }),
    ],
  });
  const kept = phases.filter((p) => p.ops.length);
  // The estimates of this plan's own operations, not of the plan it undoes.
  const { content_hash: _hash, estimate_source: _source, ...base } = original;
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
      estimated_duration: formatDuration(Math.max(...p.ops.map((o) => o.estimated_ms))),
    })),
    hooks: input.hooks,
    base_state: input.baseState,
    dry_run: input.dryRun ?? false,
    environment: {},
    ...(estimateSource ? { estimate_source: estimateSource } : {}),
  };
}
