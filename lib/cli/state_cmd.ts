import { Command } from "@commander-js/extra-typings";
import { MupError } from "../errors.ts";
import {
  describeLock,
  type Interruption,
  interruption,
  isStale,
  lockFile,
  lockPath,
  unreadableLockNote,
} from "../state/lock.ts";
import { shellQuote } from "../executor/shell_quote.ts";
import type { ApplyState } from "../state/schema.ts";
import { StateStore } from "../state/store.ts";
import { exists } from "../state/atomic.ts";
import { type CliContext, print, printJson } from "./context.ts";
import { findState, newestWarnings, requireCluster } from "./resume_cli.ts";
import { checkpointProblem } from "../state/checkpoint_file.ts";
import { readLine } from "./prompt.ts";
import { addRollbackCommand } from "./rollback_cmd.ts";
import { table } from "../util/format.ts";

/**
 * How an apply stands for a reader, beyond its recorded status: `not_started` when its mup
 * stopped before the apply became the cluster's newest (nothing of it ran: killed while it
 * opened its state), `superseded` when a later apply of the cluster replaced it unfinished (it
 * cannot be resumed: its plan no longer describes the cluster), `interrupted` when it is
 * recorded running but its mup is gone, else the status.
 */
function shownStatus(s: ApplyState, current: string | undefined, cut?: Interruption): string {
  const unfinished = s.status !== "completed" && s.status !== "rolled_back";
  const untouched = Object.values(s.operation_states).every((o) => o.status === "pending");
  if (unfinished && current && current !== s.state_id && untouched) return "not_started";
  if (unfinished && current && current !== s.state_id) return "superseded";
  return cut ? "interrupted" : s.status;
}

function summary(
  s: ApplyState,
  current: string | undefined,
  cut?: Interruption,
  planGone = false,
): string {
  const ops = Object.values(s.operation_states);
  const count = (st: string) => ops.filter((o) => o.status === st).length;
  // Once its mup is gone (stopped at once, paused, failed, killed), nothing of the apply runs:
  // an operation recorded running was cut off, and whether its work happened is unknown.
  const stopped = s.status !== "running" || cut !== undefined;
  const shown = shownStatus(s, current, cut);
  const cutOff = stopped ? count("running") : 0;
  const lines = [
    `State ID: ${s.state_id}`,
    `Plan: ${s.plan_id} (${s.plan_path}${
      planGone ? ": gone, deleted or moved; resume and rollback need it back" : ""
    })`,
    `Cluster: ${s.cluster_name}`,
    `Status: ${s.status}${s.resumes ? ` (resumed ${s.resumes}×)` : ""}${
      cut ? ` (interrupted: ${cut.reason})` : ""
    }${
      shown === "superseded"
        ? ` (superseded by apply ${current}, which replaced it: it cannot be resumed)`
        : ""
    }`,
    `Started: ${s.started_at}`,
    `Updated: ${s.updated_at}`,
    `Current phase: ${s.current_phase}`,
    `Operations: ${count("completed")} completed, ${count("skipped")} skipped, ${
      count("failed")
    } failed, ${stopped ? `${cutOff} interrupted` : `${count("running")} running`}, ${
      count("pending")
    } pending (of ${ops.length})`,
    // A rolled-back apply has nothing left to resume: its rollback undid what it did.
    ...(cutOff && shown !== "superseded" && s.status !== "rolled_back"
      ? [
        `  (interrupted: running when mup stopped, their outcome unknown; \`mup plan resume ` +
        `${s.cluster_name}\` checks each again and runs only what is not in place)`,
      ]
      : []),
    "",
    "Phases:",
    // Names as wide as the longest (restart-mongod, undo-deploy), so the statuses line up.
    // A phase left running by a pause that cut nothing off is paused between its operations;
    // one with an operation cut off (phases run one at a time: that phase) was interrupted.
    ...Object.values(s.phase_states).map((p, _i, all) =>
      `  ${p.name.padEnd(Math.max(12, ...all.map((q) => q.name.length)))} ${
        stopped && p.status === "running"
          ? s.status === "paused" && !cutOff ? "paused" : "interrupted"
          : p.status
      }${p.error ? `: ${p.error}` : ""}`
    ),
  ];
  if (s.errors.length) {
    lines.push(
      "",
      "Errors:",
      ...s.errors.map((e) => `  ${e.timestamp} ${e.operation}: ${e.error}`),
    );
  }
  if (s.checkpoints.length) {
    lines.push("", `Last checkpoint: ${s.checkpoints[s.checkpoints.length - 1].id}`);
  }
  return lines.join("\n");
}

/** `command line: …` of process `pid` (/proc, arguments joined by spaces), if it can be read. */
function commandLineOf(pid: number): string | undefined {
  try {
    const args = Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0").filter((a) => a);
    return args.length ? `command line: ${args.join(" ").slice(0, 120)}` : undefined;
  } catch {
    return undefined;
  }
}

export function stateCommand(ctx: CliContext): Command {
  const cmd = new Command("state").description("Inspect apply states, checkpoints and locks");

  cmd.command("show")
    .description("The current (or a given) apply state of a cluster")
    .argument("[cluster]")
    .option("--state-id <id>", "a specific apply state")
    .option("--json", "the full state document")
    .action(async (cluster, opts) => {
      const { state, store, newest } = await findState(ctx, cluster, opts.stateId);
      // A `running` apply whose mup is gone is shown as interrupted; the stored state stays.
      const cut = await interruption(store.clusterDir, state);
      const current = newest.id;
      const superseded = shownStatus(state, current, cut) === "superseded";
      const planGone = !(await exists(state.plan_path));
      const badLock = await unreadableLockNote(store.clusterDir);
      if (opts.json) {
        printJson({
          ...state,
          ...(cut ? { interrupted: cut } : {}),
          ...(superseded ? { superseded_by: current } : {}),
          ...(planGone ? { plan_missing: true } : {}),
          ...(badLock ? { lock_unreadable: { path: badLock.path, reason: badLock.reason } } : {}),
        });
      } else {
        print(summary(state, current, cut, planGone));
        if (badLock) print(`\nNote: ${badLock.note}.`);
      }
    });

  cmd.command("list")
    .description("Apply history of a cluster, oldest first")
    .argument("<cluster>")
    .option("--json", "machine-readable output")
    .action(async (cluster, opts) => {
      const store = new StateStore(await requireCluster(ctx, cluster));
      const { states, unreadable } = await store.scan();
      const newest = await store.newest();
      const current = newest.id;
      // The status as it stands (superseded, interrupted), the recorded one beside it.
      const rows = await Promise.all(states.map(async (s) => ({
        state_id: s.state_id,
        plan_id: s.plan_id as string | null,
        status: shownStatus(s, current, await interruption(store.clusterDir, s)),
        recorded_status: s.status as string | null,
        started_at: s.started_at as string | null,
        updated_at: s.updated_at as string | null,
      })));
      // A state file that cannot be read is listed as such (its place in time is unknown).
      const damaged = unreadable.map((u) => ({
        state_id: u.state_id,
        plan_id: null,
        status: "unreadable",
        recorded_status: null,
        started_at: null,
        updated_at: null,
        file: u.file,
        error: u.reason,
      }));
      const warnings = newestWarnings(newest);
      if (opts.json) return printJson([...rows, ...damaged]);
      if (!rows.length && !damaged.length) {
        return print(`No apply states for cluster ${cluster}.`);
      }
      print(table([16, 16, 12], [
        ["STATE ID", "PLAN ID", "STATUS", "STARTED"],
        ...rows.map((r) => [r.state_id, r.plan_id ?? "", r.status, r.started_at ?? ""]),
        ...damaged.map((r) => [r.state_id, "?", r.status, "?"]),
      ]));
      if (rows.some((r) => r.status === "not_started")) {
        print(
          "\nnot_started: its mup stopped before the apply's first operation (killed as it " +
            "began); nothing of it was applied: make or apply its plan again.",
        );
      }
      if (rows.some((r) => r.status === "superseded")) {
        print(
          "\nsuperseded: left unfinished, then replaced by a later apply; it cannot be resumed.",
        );
      }
      if (damaged.length) {
        print(
          `\nunreadable: ${damaged.map((d) => d.error).join("; ")}. The history above has ` +
            "holes: when an apply was made, and whether it is the newest, is unknown for these.",
        );
      }
      for (const w of warnings) print(`\nWarning: ${w}`);
    });

  cmd.command("checkpoints")
    .description("Checkpoints of a cluster's current (or a given) apply")
    .argument("[cluster]")
    .option("--state-id <id>", "a specific apply state")
    .option("--json", "machine-readable output")
    .action(async (cluster, opts) => {
      const { state } = await findState(ctx, cluster, opts.stateId);
      // Each checkpoint's file is looked at: a rollback to a missing or damaged one is refused.
      const checked = await Promise.all(state.checkpoints.map(async (c) => {
        const problem = await checkpointProblem(c);
        return { ...c, usable: !problem, ...(problem ? { problem } : {}) };
      }));
      if (opts.json) return printJson(checked);
      if (!state.checkpoints.length) {
        return print(`Apply ${state.state_id} has no checkpoints yet.`);
      }
      print(
        checked.map((c) =>
          `${c.id.padEnd(20)} ${c.timestamp}  ${c.description}${
            c.problem ? `  [${c.problem.kind.toUpperCase()}: ${c.problem.detail}]` : ""
          }\n${"".padEnd(21)}${c.path}`
        ).join("\n"),
      );
      if (checked.some((c) => c.problem)) {
        print(
          `\nA missing or damaged checkpoint cannot be rolled back to: restore its file, or roll ` +
            `back to another one (or to "start", before the apply).`,
        );
      }
    });

  cmd.command("unlock")
    .description("Remove a cluster's apply lock (only when its holder is certainly gone)")
    .argument("<cluster>")
    .option(
      "--force",
      "do not ask for confirmation (a holder alive on this machine is still refused)",
    )
    .option("--json", "machine-readable output")
    .action(async (cluster, opts) => {
      const dir = ctx.store.clusterDir(cluster);
      const file = await lockFile(dir);
      if ("absent" in file) {
        if (opts.json) return printJson({ unlocked: false, reason: "not locked" });
        return print(`Cluster ${cluster} is not locked.`);
      }
      if ("unreadable" in file) {
        // Damaged or edited by hand: no holder can be named or checked, so it is asked for.
        if (!opts.force) {
          (opts.json ? console.error : print)(
            `The lock ${lockPath(dir)} cannot be read (${file.unreadable}): mup cannot tell ` +
              "which mup held it, nor whether it still runs.",
          );
          const a = await readLine(
            "Do you really want to remove it? Only 'yes' will be accepted to confirm: ",
            opts.json ? "stderr" : "stdout",
          );
          if (a?.trim() !== "yes") {
            throw new MupError("force-unlock cancelled.", { hint: "answer yes, or pass --force" });
          }
        }
        await Deno.remove(lockPath(dir));
        if (opts.json) return printJson({ unlocked: true, unreadable: file.unreadable });
        return print(
          `Cluster ${cluster} has been successfully unlocked (its lock was unreadable).`,
        );
      }
      const lock = file.lock;
      // A holder alive on this machine is never unlocked from under it, --force or not: two
      // applies would then change the cluster at once.
      const here = lock.host === Deno.hostname();
      if (here && !isStale(lock)) {
        // mup records its start time: a lock without one (written by hand) names a live
        // process that may be anything, which is said rather than called a mup.
        const what = lock.pid_start === undefined
          ? `process ${lock.pid} on this machine, which is alive (${
            commandLineOf(lock.pid) ?? "its command line cannot be read"
          }); the lock records no start time, as mup's locks do, so mup cannot tell whether ` +
            "that process took it"
          : `a running mup (pid ${lock.pid}, ${lock.operation}, since ${lock.created})`;
        throw new MupError(
          `cluster ${cluster} is locked by ${what}: unlock removes only a lock whose holder is gone`,
          {
            hint: lock.pid_start === undefined
              ? `if process ${lock.pid} is not a mup applying a plan to ${cluster}, the lock was ` +
                `not written by mup: remove it yourself (\`rm ${shellQuote(lockPath(dir))}\`)`
              : `let it finish, or stop it (Ctrl-C pauses it and releases the lock; \`mup plan resume ${cluster}\` continues)`,
            details: { lock, ...(lock.state_id ? { state_id: lock.state_id } : {}) },
          },
        );
      }
      if (!opts.force) {
        // Under --json, stdout carries only the answer: the question goes to stderr.
        (opts.json ? console.error : print)(
          describeLock(lock) +
            (here
              ? "\n(the holder process is gone)"
              : `\n(held from another machine, ${lock.host}: mup cannot tell whether it still runs)`),
        );
        const a = await readLine(
          "Do you really want to force-unlock? Only 'yes' will be accepted to confirm: ",
          opts.json ? "stderr" : "stdout",
        );
        if (a?.trim() !== "yes") {
          throw new MupError("force-unlock cancelled.", {
            hint: "answer yes, or pass --force",
            details: { lock, ...(lock.state_id ? { state_id: lock.state_id } : {}) },
          });
        }
      }
      await Deno.remove(lockPath(dir));
      if (opts.json) printJson({ unlocked: true, lock });
      else print(`Cluster ${cluster} has been successfully unlocked.`);
    });
  addRollbackCommand(cmd as unknown as Command, ctx);
  return cmd as unknown as Command;
}
