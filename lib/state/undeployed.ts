/**
 * A cluster directory with an apply state but no metadata: a first deploy that failed, was
 * paused or was cut off (kill -9, crash), or one rolled back since (which leaves the secrets
 * store, and whatever an earlier attempt made that the rolled-back one found in place). Its
 * processes may be running, so the cluster commands show it, say how to continue or undo it,
 * and `cluster destroy` removes it.
 */
import * as path from "node:path";
import { hostKey, hostPort } from "../topology/hosts.ts";
import { listProcesses } from "../plan/processes.ts";
import { parsePlanText } from "../plan/parse.ts";
import { allOperations, type Plan, type ValidationIssue } from "../plan/schema.ts";
import type { Topology } from "../topology/schema.ts";
import { type Interruption, interruption } from "./lock.ts";
import type { ClusterMeta } from "./meta.ts";
import { metaFromPlan } from "./meta_from_plan.ts";
import type { ApplyState, OperationState } from "./schema.ts";
import { StateStore } from "./store.ts";
import { MARK_OP } from "../plan/mark_op.ts";

/**
 * The warning a new plan carries when the cluster's current apply is unfinished (failed, paused,
 * or its mup killed): the new plan replaces it, which then can no longer be resumed. Undefined
 * when there is none (or its mup still runs: the lock refuses the new apply).
 */
export async function unfinishedApplyWarning(
  clusterDir: string,
  cluster: string,
): Promise<ValidationIssue | undefined> {
  return unfinishedWarningOf(await unfinishedApply(clusterDir), cluster);
}

/** unfinishedApplyWarning of an unfinished apply already read (`u`, from unfinishedApply). */
export function unfinishedWarningOf(
  u: UnfinishedApply | undefined,
  cluster: string,
): ValidationIssue | undefined {
  if (!u || u.outcome === "running") return undefined;
  const replan = recordedReplan(u);
  return {
    code: "unfinished_apply",
    severity: "warning",
    message:
      `apply ${u.state.state_id} (${u.state.operation}) ${
        unfinishedWords(u.outcome, failedApplyHook(u.state))
      }: ` +
      `this plan replaces it, and it can no longer be resumed once this one is applied (${
        replan
          ? `a resume alone cannot finish it while its failure stands: ${replan}`
          : `\`mup plan resume ${cluster}\` completes it instead${resumeHookNote(u.state)}`
      })${
        // What a reconfigure wrote stays: a start after this plan refuses it (tester109 #1).
        u.state.operation === "reconfigure" &&
          Object.values(u.state.operation_states).some((o) =>
            o.id.startsWith("upload-") && acted(o)
          )
          ? "; the configuration files it wrote stay, and a start after this plan refuses " +
            "them until the same reconfigure, run again, finishes it"
          : ""}`,
  };
}

/** The unfinished apply of a cluster that has no metadata yet. */
export interface UnfinishedApply {
  state: ApplyState;
  /** Set when the apply is recorded `running` but its mup process is gone. */
  interrupted?: Interruption;
  /** `failed`, `paused`, `interrupted` or (its mup still at work) `running`. */
  outcome: "failed" | "paused" | "interrupted" | "running";
}

/**
 * The current apply of `clusterDir` when it did not finish (failed, paused, running or cut
 * off); undefined when there is none, it cannot be read, or it completed or was rolled back
 * (then nothing of it is left running). Reads only.
 */
export async function unfinishedApply(clusterDir: string): Promise<UnfinishedApply | undefined> {
  const store = new StateStore(clusterDir);
  const id = await store.currentId();
  if (!id) return undefined;
  const state = await store.load(id).catch(() => undefined);
  if (!state) return undefined;
  if (state.status === "failed" || state.status === "paused") {
    return { state, outcome: state.status };
  }
  if (state.status !== "running") return undefined;
  const cut = await interruption(clusterDir, state);
  return cut ? { state, interrupted: cut, outcome: "interrupted" } : { state, outcome: "running" };
}

/**
 * A reconfigure that did not finish (failed, paused or cut off) and that stops, starts or
 * restarts have since replaced as the cluster's current apply: the configuration files it wrote
 * are still in place, the metadata does not describe them, and no resume reaches it any more
 * (tester109 #1). Undefined when the newest apply that is none of those is not such a
 * reconfigure. Reads only.
 */
export async function replacedReconfigure(clusterDir: string): Promise<ApplyState | undefined> {
  const states = await new StateStore(clusterDir).list().catch(() => [] as ApplyState[]);
  for (const s of states.toReversed()) {
    if (s.operation === "reconfigure") {
      return s.status === "completed" || s.status === "rolled_back" ? undefined : s;
    }
    // These write no configuration file: what an earlier reconfigure wrote is still there.
    if (!["stop", "start", "restart"].includes(s.operation)) return undefined;
  }
  return undefined;
}

/**
 * How an apply a later one replaced was left, for messages: its status, or "interrupted" for one
 * still recorded running, since the lock let the later apply run only once its mup was gone.
 */
export function replacedOutcome(state: ApplyState): string {
  return state.status === "running" ? "interrupted" : state.status;
}

/** What a cluster without metadata left: its unfinished apply, or its newest deploy, undone. */
export interface UndeployedApply {
  state: ApplyState;
  interrupted?: Interruption;
  outcome: UnfinishedApply["outcome"] | "rolled_back";
}

/**
 * The newest apply that shows a cluster directory without metadata was deployed all the same
 * (meta.yaml and mup's copy of it both lost): a deploy that completed, or an apply of a command
 * that needs a recorded cluster (anything but a deploy, a rollback or a destroy). Undefined for a
 * directory only first deploys that did not finish (or were rolled back) wrote in. Reads only.
 */
export async function recordedApply(clusterDir: string): Promise<ApplyState | undefined> {
  const states = await new StateStore(clusterDir).list().catch(() => [] as ApplyState[]);
  // A destroy cut off after it removed the metadata: what is left is its (a resume ends it).
  if (states.at(-1)?.operation === "destroy") return undefined;
  // A rollback or a destroy also runs on a cluster never recorded (what first deploys left).
  return states.filter((s) =>
    s.operation !== "rollback" && s.operation !== "destroy" &&
    (s.status === "completed" || s.operation !== "deploy")
  ).at(-1);
}

/**
 * What a cluster directory without metadata holds of a deploy: its unfinished apply
 * (unfinishedApply), else its newest deploy apply, rolled back since (to its start or to a
 * checkpoint: either way files stay, at least the secrets store); undefined when no deploy
 * was ever applied there, or when one was recorded (recordedApply: the metadata was lost,
 * which is not a cluster never deployed). Reads only.
 */
export async function undeployedApply(clusterDir: string): Promise<UndeployedApply | undefined> {
  if (await recordedApply(clusterDir)) return undefined;
  const u = await unfinishedApply(clusterDir);
  if (u) return u;
  const states = await new StateStore(clusterDir).list().catch(() => [] as ApplyState[]);
  const last = states.filter((s) => s.operation === "deploy").at(-1);
  return last ? { state: last, outcome: "rolled_back" } : undefined;
}

/** `not deployed (apply <id> failed)` and the like: the status `cluster list` shows. */
export function undeployedStatus(u: UndeployedApply): string {
  const how = u.outcome === "rolled_back"
    ? `rolled back to ${u.state.rolled_back_to ?? "a checkpoint"}`
    : u.outcome;
  return `not deployed (apply ${u.state.state_id} ${how})`;
}

/**
 * The cluster a never-recorded cluster's deploys describe, for `cluster destroy` to reach what
 * they left: the newest deploy plan's, with the servers (by host:port) that only earlier
 * attempts had added to its topology. Never written: lineage "" and serial 0, as for any
 * cluster without metadata (metaFromPlan). Undefined when no deploy plan of it can be read, or
 * when the cluster was recorded (recordedApply: its metadata was lost).
 */
export async function undeployedMeta(
  clusterDir: string,
  planFile: (planId: string) => string,
): Promise<ClusterMeta | undefined> {
  // A recorded cluster whose metadata was lost is not described from its first deploys.
  if (await recordedApply(clusterDir)) return undefined;
  const states = await new StateStore(clusterDir).list().catch(() => [] as ApplyState[]);
  const deploys = states.filter((s) => s.operation === "deploy");
  const plans: Plan[] = [];
  for (const s of deploys) {
    const file = planFile(s.plan_id);
    const plan = await Deno.readTextFile(file).then((t) => parsePlanText(t, file).plan, () => {
      return undefined;
    });
    if (plan) plans.push(plan);
  }
  const newest = plans.at(-1);
  if (!newest) return undefined;
  const topology: Topology = structuredClone(newest.topology);
  const all = (t: Topology) => [...t.config_servers, ...t.mongod_servers, ...t.mongos_servers];
  const seen = new Set(all(topology).map((e) => hostPort(e.host, e.port)));
  const add = <T extends { host: string; port: number }>(into: T[], from: T[]) => {
    for (const e of from) {
      if (seen.has(hostPort(e.host, e.port))) continue;
      seen.add(hostPort(e.host, e.port));
      into.push(e);
    }
  };
  for (const older of plans.slice(0, -1).reverse()) {
    add(topology.config_servers, older.topology.config_servers);
    add(topology.mongod_servers, older.topology.mongod_servers);
    add(topology.mongos_servers, older.topology.mongos_servers);
  }
  return metaFromPlan({ ...newest, topology }, clusterDir, {
    stateId: deploys.at(-1)!.state_id,
    unrecorded: true,
  });
}

/**
 * The data directories (`<machine>\0<dir>`, hostKey) that an apply of a never-recorded cluster
 * made (create_directory's `created`) or ran one of its mongods on (a completed start): what its
 * destroy may remove. A directory that was there before and none of its mongods started on (a
 * first deploy refused with DBPathInUse by another store's mongod) is someone else's. A
 * create_directory recorded by an older mup, which did not say what it made, counts as made.
 */
export async function dataDirsUsed(clusterDir: string): Promise<Set<string>> {
  const out = new Set<string>();
  const states = await new StateStore(clusterDir).list().catch(() => [] as ApplyState[]);
  for (const s of states.filter((s) => s.operation === "deploy")) {
    const plan = await Deno.readTextFile(s.plan_path).then(
      (t) => parsePlanText(t, s.plan_path).plan,
      () => undefined,
    );
    if (!plan) continue;
    const procs = listProcesses(plan.topology, path.join(clusterDir, "deploy"));
    const dataOf = new Map(procs.map((p) => [p.id, p.dirs.data]));
    const datas = new Set(procs.map((p) => `${hostKey(p.host)}\0${p.dirs.data}`));
    for (const o of allOperations(plan)) {
      const st = s.operation_states[o.id];
      if (st?.status !== "completed") continue;
      const machine = hostKey(o.target.host ?? "localhost");
      if (o.type === "start_process" && dataOf.has(o.target.name)) {
        out.add(`${machine}\0${dataOf.get(o.target.name)}`);
      }
      if (o.type !== "create_directory" || st.result?.output === "already in place") continue;
      const created = st.result?.metadata?.created;
      const made = Array.isArray(created)
        ? created as string[]
        : JSON.parse(o.target.params.paths ?? "[]") as string[];
      for (const d of made) if (datas.has(`${machine}\0${d}`)) out.add(`${machine}\0${d}`);
    }
  }
  return out;
}

/**
 * Whether an apply did anything but record that the cluster is changing (its first operation,
 * `mark-status-unknown`): an operation completed or cut off while running, one that failed
 * without saying it changed nothing (`no_effect`), or one whose work began and was paused
 * (mayHaveActed: a shard's drain that a Ctrl-C stopped waiting for goes on; tester82).
 */
export function changedAnything(state: ApplyState): boolean {
  return Object.values(state.operation_states).some((o) => o.id !== MARK_OP && acted(o));
}

/** Whether one operation may have changed something (changedAnything's test of each). */
export function acted(o: OperationState): boolean {
  return o.status === "completed" || o.status === "running" || mayHaveActed(o) ||
    (o.status === "failed" && o.result?.metadata?.no_effect !== true);
}

/**
 * Whether an operation's work began and may have had its effect without being recorded done:
 * it ran (`executions`) and did not fail saying it changed nothing (`no_effect`). A sent
 * command cut off, or failed on a lost connection, may have reached the server.
 */
export function mayHaveActed(o: OperationState | undefined): boolean {
  return (o?.executions ?? 0) > 0 &&
    !(o?.status === "failed" && o.result?.metadata?.no_effect === true);
}

/**
 * The apply-wide hook whose failure failed `state` (its last error), or undefined: an
 * `after_apply` failure comes after every operation completed, a `before_apply` one before any
 * ran.
 */
export function failedApplyHook(state: ApplyState): "before_apply" | "after_apply" | undefined {
  if (state.status !== "failed") return undefined;
  const id = state.errors.at(-1)?.operation;
  return id === "hook:after_apply"
    ? "after_apply"
    : id === "hook:before_apply"
    ? "before_apply"
    : undefined;
}

/**
 * " once its failed hook passes (`--no-hooks` …)" when a hook failed `state` (its last error)
 * that a resume runs again, else "" (tester44).
 */
export function resumeHookNote(state: ApplyState): string {
  const error = state.status === "failed" ? state.errors.at(-1)?.error ?? "" : "";
  // An after_operation hook's operation completed: a resume goes on after it (hook_advice.ts).
  return error.startsWith("hook ") && !error.startsWith("hook after_operation ")
    ? " once its failed hook passes (`--no-hooks` resumes without the plan's hooks)"
    : "";
}

/**
 * "is interrupted, not finished"; "failed before it finished" (not "is failed"); for a failure
 * of an apply-wide hook (`failedApplyHook`), which hook and whether any operation ran.
 */
export function unfinishedWords(status: string, hook?: "before_apply" | "after_apply"): string {
  if (status !== "failed") return `is ${status}, not finished`;
  if (hook === "after_apply") {
    return "failed in its after_apply hook, after every operation completed";
  }
  if (hook === "before_apply") return "failed in its before_apply hook, before any operation ran";
  return "failed before it finished";
}

/**
 * What finishes `u` when a resume alone cannot (a failed apply whose operation recorded the
 * OperationError `replan` in its result: run_operation.ts), or undefined.
 */
export function recordedReplan(u: UnfinishedApply): string | undefined {
  if (u.outcome !== "failed") return undefined;
  return Object.values(u.state.operation_states).map((o) => o.result?.metadata?.replan)
    .find((r): r is string => typeof r === "string");
}
