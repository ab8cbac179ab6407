import type { ApplyEvent } from "../apply/events.ts";
import { hookFailureAdvice } from "./hook_advice.ts";
import type { Plan } from "../plan/schema.ts";
import { formatDuration, visible } from "../util/format.ts";
import { groupDoneLine, groupOperations, type OpGroup, phaseTitle } from "./groups.ts";

/** Operations that wait for a condition: finding it true at once is not "already in place". */
const WAITS = new Set([
  "wait_for_process",
  "wait_for_primary",
  "wait_for_member_state",
  "verify_health",
]);

/** What a completed apply of each plan operation says: its name, and the cluster's status. */
const DONE: Record<string, [string, string]> = {
  deploy: ["Deployment", "running"],
  start: ["Start", "running"],
  restart: ["Restart", "running"],
  stop: ["Stop", "stopped"],
  destroy: ["Destroy", "destroyed (records kept in the archive)"],
  rollback: ["Rollback", "rolled back"],
  "tls-enable": ["TLS enable", "running"],
  "tls-disable": ["TLS disable", "running"],
  upgrade: ["Upgrade", "running"],
  "scale-out": ["Scale-out", "running"],
  "scale-in": ["Scale-in", "running"],
  reconfigure: ["Reconfiguration", "running"],
};

/**
 * Lines as in the specification's Example 1: phase headers, one line per group of alike
 * operations with ✓/✗ and its duration, checkpoints. `write` is where the lines go.
 */
export class PlainRenderer {
  private groups: OpGroup[] = [];
  private groupOf = new Map<string, OpGroup>();
  private started = new Map<OpGroup, number>();
  private finished = new Map<OpGroup, { n: number; already: number }>();
  /** Each group's finished operations (in place or not), and how many a line has shown. */
  private doneOps = new Map<OpGroup, { id: string; already: boolean }[]>();
  private shown = new Map<OpGroup, number>();
  /** Groups of one operation run again on a resume (op_redo): their line carries ↻. */
  private redone = new Set<OpGroup>();
  /** Of operations run again, the ↻ line each gets when it starts: "<description>: <reason>". */
  private redo = new Map<string, string>();
  private plan?: Plan;
  /** Directories a removal left because they hold files mup did not make (and which files). */
  private kept: string[] = [];

  /** Operation hooks (event and name) whose command has been shown. */
  private hooksShown = new Set<string>();
  /** A later run's `↪ Hook` line, per operation, printed before its first output line. */
  private hookHeaders = new Map<string, string>();
  constructor(private readonly write: (line: string) => void) {}

  handle = (e: ApplyEvent): void => {
    switch (e.type) {
      case "apply_start":
        this.plan = e.plan;
        // On a resume, lines count only what runs now, so a group that is partly done before
        // (and an operation run again) still gets its line.
        this.groups = groupOperations(e.done ? withoutOps(e.plan, new Set(e.done)) : e.plan);
        for (const g of this.groups) for (const o of g.ops) this.groupOf.set(o.id, g);
        // A resume has said so already, naming its checkpoint (resume_cli.ts).
        if (!e.resumed) this.write("Applying plan...");
        break;
      case "phase_start":
        this.write(`\nPhase ${e.index}/${e.total}: ${phaseTitle(e.phase)}`);
        break;
      case "checkpoint":
        this.write(`Checkpoint saved: ${e.id}`);
        break;
      case "op_start": {
        const g = this.groupOf.get(e.id);
        if (g && !this.started.has(g)) this.started.set(g, performance.now());
        const again = this.redo.get(e.id);
        if (again !== undefined) {
          this.redo.delete(e.id);
          this.write(`  ↻ ${again}; running it again`);
        }
        break;
      }
      case "op_done": {
        const op = this.plan?.phases.flatMap((p) => p.operations).find((o) => o.id === e.id);
        // A directory destroy kept is summed up at the end, with what it holds.
        if (e.notice && op?.type === "remove_directory") this.kept.push(e.notice);
        else if (e.notice) this.write(`  ! ${op?.description ?? e.id}: ${e.notice}`);
        const g = this.groupOf.get(e.id)!;
        const f = this.count(g, e.already_done);
        this.doneOps.set(g, [...(this.doneOps.get(g) ?? []), {
          id: e.id,
          already: e.already_done,
        }]);
        if (f.n === g.ops.length) this.flush(g);
        break;
      }
      case "op_redo": {
        const op = this.plan?.phases.flatMap((p) => p.operations).find((o) => o.id === e.id);
        // Said when it runs again, under its own phase's header (a resume announces every
        // operation it runs again before the first phase starts).
        this.redo.set(e.id, `${op?.description ?? e.id}: ${e.reason}`);
        // Its own line once done, marked ↻ like this one, not merged into its group's.
        const g = this.groupOf.get(e.id);
        if (op && g && g.ops.length > 1) {
          g.ops = g.ops.filter((o) => o.id !== e.id);
          const own: OpGroup = { key: `${g.key}:redo:${e.id}`, phase: g.phase, ops: [op] };
          this.groups.push(own);
          this.groupOf.set(e.id, own);
          this.redone.add(own);
        } else if (g) this.redone.add(g);
        break;
      }
      case "op_skipped":
        this.write(`  ! Skipped ${e.id} (dangerous): ${e.reason}`);
        this.count(this.groupOf.get(e.id));
        break;
      case "op_failed": {
        const op = this.plan?.phases.flatMap((p) => p.operations).find((o) => o.id === e.id);
        // What its group did before it failed is shown, not lost with the group's line.
        const g = this.groupOf.get(e.id);
        if (g) this.flush(g);
        this.write(`  ✗ ${op?.description ?? e.id} [${formatDuration(e.ms)}]\n    ${e.error}`);
        break;
      }
      case "op_stopped_waiting": {
        const op = this.plan?.phases.flatMap((p) => p.operations).find((o) => o.id === e.id);
        const g = this.groupOf.get(e.id);
        if (g) this.flush(g);
        this.write(`  ⏸ ${op?.description ?? e.id} [${formatDuration(e.ms)}]\n    ${e.reason}`);
        break;
      }
      case "answer_wait": {
        // The time at the menu is not the step's: its line's duration leaves it out.
        const g = this.groupOf.get(e.id);
        const since = g && this.started.get(g);
        if (g && since !== undefined) this.started.set(g, since + e.ms);
        break;
      }
      case "safety_failed":
        this.write(
          `  ✗ Safety check failed for operation ${e.id}:\n    Check: ${e.check_type}\n    Status: ${e.status}`,
        );
        break;
      case "hook_start": {
        const line = `  ↪ Hook ${e.event}${e.phase && !e.operation ? ` (${e.phase})` : ""}${
          e.operation ? ` [${e.operation}]` : ""
        }`;
        // An operation's hook runs for every operation: its command is shown the first time,
        // and later runs only when they print (their line then comes first) or fail (tester68).
        const key = `${e.event}\0${e.name}`;
        if (!e.operation) this.write(`${line}: ${e.command}`);
        else if (this.hooksShown.has(key)) this.hookHeaders.set(e.operation, line);
        else {
          this.hooksShown.add(key);
          this.write(
            `${line}: ${e.command} (runs for every operation; shown again when it prints or fails)`,
          );
        }
        break;
      }
      case "hook_left": {
        const hook = `Hook ${e.event}${e.scope ? ` [${e.scope}]` : ""}`;
        const left = Math.max(0, e.deadline - Date.now());
        this.write(
          e.status === "waiting"
            ? `  ! ${hook}: ${e.command} is still running, left by the mup that was killed ` +
              `during apply ${e.state_id} (process group ${e.pid}): waiting for it to end ` +
              `(its timeout ends it in ${formatDuration(left)}), so that it does not run twice ` +
              "at once"
            : e.status === "ended"
            ? `  ! ${hook} left running has ended`
            : `  ! ${hook} left running was killed with its process group (its timeout, or a ` +
              "Ctrl-C, ended the wait)",
        );
        break;
      }
      case "hook_output": {
        const header = e.operation && this.hookHeaders.get(e.operation);
        if (header) {
          this.hookHeaders.delete(e.operation!);
          this.write(header);
        }
        // A hook's bytes, not the terminal's commands (tester89).
        this.write(`    │ ${visible(e.line)}`);
        break;
      }
      case "hook_done":
        if (e.operation) this.hookHeaders.delete(e.operation);
        if (e.code !== 0) {
          this.write(
            `  ✗ Hook ${e.name}${e.operation ? ` [${e.operation}]` : ""} ${
              e.timed_out ? "timed out; its process group was killed" : `exited with ${e.code}`
            } [${formatDuration(e.ms)}]${
              e.continue_on_error ? " (continue_on_error: the apply goes on)" : ""
            }`,
          );
        }
        break;
      case "apply_done":
        // Operations of groups cut short by a failure, finished since: shown too.
        for (const g of this.groups) this.flush(g);
        this.done(e);
        break;
    }
  };

  /**
   * The line of a group's finished operations not shown yet: the whole group once it is done,
   * or, after a failure, what of it finished. "(already in place)" marks work found done,
   * never a wait (finding its condition true is what a wait is for).
   */
  private flush(g: OpGroup): void {
    const done = this.doneOps.get(g) ?? [];
    const from = this.shown.get(g) ?? 0;
    if (done.length <= from) return;
    this.shown.set(g, done.length);
    const part = done.slice(from);
    const ids = new Set(part.map((d) => d.id));
    const sub: OpGroup = { ...g, ops: g.ops.filter((o) => ids.has(o.id)) };
    // Part of a group (the rest failed or never ran): a grouped "Mongod ready" would claim
    // them all, so each finished one is named on its own line.
    if (sub.ops.length > 1 && sub.ops.length < g.ops.length) {
      for (const o of sub.ops) {
        this.line(g, { ...g, ops: [o] }, part.filter((d) => d.id === o.id));
      }
      return;
    }
    this.line(g, sub, part);
  }

  /** One ✓ line: `sub` (of group `g`) done, `part` its finished operations. */
  private line(g: OpGroup, sub: OpGroup, part: { id: string; already: boolean }[]): void {
    const already = WAITS.has(g.ops[0]?.type) ? 0 : part.filter((d) => d.already).length;
    const ms = formatDuration(performance.now() - (this.started.get(g) ?? performance.now()));
    // "Downloaded … (already in place)" would say both: a cached archive is just that.
    if (g.ops[0]?.type === "download_binary" && already === part.length) {
      this.write(
        `  ✓ MongoDB ${this.plan!.version} already downloaded (in the local cache) [${ms}]`,
      );
      return;
    }
    // A stop found in place met a process that was not running (stopped, or died, since the
    // plan was made): that is what an operator needs to know, not that the stop "was done".
    const inPlace = g.ops[0]?.type === "stop_process"
      ? "not running"
      : g.ops[0]?.type === "start_process"
      ? "already running"
      : "already in place";
    const note = already === part.length
      ? ` (${inPlace})`
      : already
      ? ` (${already} ${inPlace})`
      : "";
    const mark = this.redone.has(g) ? "✓ ↻" : "✓";
    this.write(`  ${mark} ${groupDoneLine(this.plan!, sub)}${note} [${ms}]`);
  }

  /** Counts one more finished operation of a group; what it has counted so far. */
  private count(g: OpGroup | undefined, already = false): { n: number; already: number } {
    const f = (g && this.finished.get(g)) ?? { n: 0, already: 0 };
    f.n++;
    if (already) f.already++;
    if (g) this.finished.set(g, f);
    return f;
  }

  private done(e: Extract<ApplyEvent, { type: "apply_done" }>): void {
    const plan = this.plan!;
    if (e.status === "completed") {
      const [what, planned] = DONE[plan.operation] ?? ["Apply", "running"];
      const status = plan.operation === "destroy" ? planned : e.cluster_status ?? planned;
      this.write(`\n${what} completed successfully! [${formatDuration(e.ms)}]\n`);
      this.write(`Cluster: ${plan.cluster_name}`);
      this.write(
        `Status: ${status}${
          status === "partial"
            ? ` (some of its processes run: \`mup cluster display ${plan.cluster_name}\` shows which)`
            : ""
        }`,
      );
      if (status === "running") this.write(`Connection: mongosh '${e.connection}'`);
      if (status === "running" && e.credentials) {
        this.write(`Password: run \`${e.credentials}\` (mup prints it nowhere else)`);
      }
      if (this.kept.length) {
        this.write("Kept (mup removed only its own files from these directories):");
        for (const k of this.kept) this.write(`  ${k}`);
      }
      return;
    }
    const phase = plan.phases.find((p) => p.name === e.phase);
    if (e.status === "paused") {
      this.write(
        e.interrupted
          ? `\nApply paused (interrupted) during phase ${
            phase?.order ?? "?"
          } (${e.phase}); running operations were allowed to finish.`
          : `\nApply paused at phase ${phase?.order ?? "?"}, operation ${e.failed_operation}.`,
      );
    } else {
      this.write(
        `\nApply failed at phase ${phase?.order ?? "?"}, operation ${e.failed_operation}.`,
      );
    }
    if (e.error && e.status !== "paused") this.write(`Error: ${e.error}`);
    // The first failure ends the apply; the others of its run are named too (tester74 #7).
    for (const o of e.also_failed ?? []) this.write(`Also failed: ${o.operation}: ${o.error}`);
    // A start that ran and failed is said so: "has not run" would send one looking for a
    // start that never came (tester96).
    const failedStart = new Set(e.start_failed ?? []);
    const down = e.left_down ?? [];
    for (const failed of [false, true]) {
      const list = down.filter((d) => failedStart.has(d) === failed);
      if (!list.length) continue;
      const one = list.length === 1;
      const starts = failed
        ? `${one ? "its start" : "their starts"} failed`
        : `${one ? "its start has" : "their starts have"} not run`;
      this.write(
        `Down now: ${list.join(", ")} (this ${plan.operation} stopped ${
          one ? "it" : "them"
        }; ${starts})`,
      );
    }
    this.write(`State saved: ${e.state_id}`);
    this.write(
      `Last checkpoint: ${
        e.last_checkpoint ??
          `none (${e.status === "paused" ? "paused" : "failed"} in the first phase)`
      }`,
    );
    if (e.replan && e.status !== "paused") {
      // The error says what does (e.replan), ending with the command that plans it again.
      this.write(
        "\nA resume alone cannot finish it while that stands: the error above says what does.",
      );
      return;
    }
    this.write(`\nTo resume: mup plan resume ${plan.cluster_name}`);
    if (plan.operation === "upgrade" && e.status !== "paused") {
      // The way back is asked for first after a failed upgrade: say there is none in mup.
      this.write(
        `An upgrade is not rolled back: members it restarted run ${plan.version} now, and ` +
          "going back to the old release is a downgrade, which mup cannot do yet (the old " +
          "binaries stay installed). Fix the cause and resume.",
      );
    }
    const advice = hookFailureAdvice(plan, e);
    if (advice) this.write(advice);
  }
}

/** The plan without the given operations (for grouping what a resume still runs). */
function withoutOps(plan: Plan, ids: Set<string>): Plan {
  return {
    ...plan,
    phases: plan.phases.map((ph) => ({
      ...ph,
      operations: ph.operations.filter((o) => !ids.has(o.id)),
    })),
  };
}
