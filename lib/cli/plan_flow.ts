import { preflightFailure } from "./failures.ts";
/**
 * The flow every plan-producing command shares (deploy, start, stop, restart, destroy,
 * rollback): plan hooks, build, save (or not, for --dry-run), show, then stop at the plan or
 * confirm and apply through runApply. Each command gives only its planner and its header.
 */
import { type Command, Option } from "@commander-js/extra-typings";
import { Emitter } from "../apply/events.ts";
import { HookDispatcher, HookFailed } from "../apply/hook_events.ts";
import { killRunningHooks } from "../hooks/runner.ts";
import { MupError } from "../errors.ts";
import type { Hook } from "../hooks/schema.ts";
import { sealPlan } from "../plan/hash.ts";
import { hookPhaseWarnings } from "../plan/phase_names.ts";
import { allOperations, type Plan } from "../plan/schema.ts";
import { PlainRenderer } from "../render/apply_plain.ts";
import { renderHookSchedule } from "../render/hook_schedule.ts";
import { renderPlan } from "../render/plan_text.ts";
import { type CliContext, print, printJsonLine } from "./context.ts";
import { StateStore } from "../state/store.ts";
import { refuseWhileLocked } from "../state/lock.ts";
import { IDENTIFIER_PATTERN } from "../util/ident.ts";
import { type ApplyCliOptions, applyCommandOptions, runApply } from "./apply_cli.ts";
import { shellQuote } from "../executor/shell_quote.ts";
import { unfinishedUpgradeWarning } from "./unfinished_switch.ts";

/** A cut run's note for a plan that was not saved: `mup plan show <id> --all` would not find it. */
// Repeated wherever a dry run's list is cut: short.
const NOT_SAVED =
  "a dry run saves no plan: --plan-only, then `plan show <id> --all`, lists every one";
/** The same note for a plan that failed pre-flight: only --plan-file writes one (tester101 #1). */
const NOT_STORED_INVALID =
  "an invalid plan is not stored: --plan-file F writes it, then `plan show F --all` lists every one";

export interface PlanFlowOptions extends ApplyCliOptions {
  planOnly?: boolean;
  dryRun?: boolean;
  planFile?: string;
  detailedExitcode?: boolean;
}

/**
 * The options of every plan-producing command, and its guard: the command's first argument is
 * the cluster's name, and while a live mup holds that cluster's lock (an apply is changing the
 * cluster and its recorded state), the command is refused before its action reads anything,
 * plans or saves (refuseWhileLocked). Read-only commands do not take these options.
 */
// deno-lint-ignore no-explicit-any
export function planFlowOptions(cmd: Command<any, any, any>, ctx: CliContext): void {
  cmd.hook("preAction", async (_cmd, action) => {
    const cluster = action.processedArgs[0];
    // An invalid name is refused by the command itself, as it names no cluster directory.
    if (typeof cluster === "string" && IDENTIFIER_PATTERN.test(cluster)) {
      await refuseWhileLocked(ctx.store.clusterDir(cluster), action.name());
    }
  });
  cmd.option("--plan-only", "generate and save the plan, then stop")
    // A dry run saves nothing: with --plan-only or --plan-file one of them would be ignored.
    .addOption(
      new Option("--dry-run", "show what apply would do, hooks included; change nothing")
        .conflicts(["planOnly", "planFile"]),
    )
    .option("--plan-file <file>", "also write the plan to this file, then stop")
    .option(
      "--detailed-exitcode",
      "with --plan-only/--dry-run/--plan-file: exit 2 when the plan has changes",
    )
    .option("--json", "machine-readable output");
  applyCommandOptions(cmd);
}

async function fireOrFail(
  d: HookDispatcher,
  event: "before_plan" | "after_plan",
  operation: string,
): Promise<void> {
  try {
    await d.fire(event);
  } catch (e) {
    if (e instanceof HookFailed) {
      throw new MupError(`${e.message}; planning stopped`, {
        // Every command but deploy (whose topology is where hooks are changed) can plan
        // without the recorded hooks.
        hint: operation === "deploy"
          ? "fix the hook in the topology, or set continue_on_error: true on it"
          : "fix the hook, or set continue_on_error: true on it; or plan again with " +
            "--no-hooks (the review lists the hooks it leaves out)",
        details: { event, operation: `hook ${event}` },
      });
    }
    throw e;
  }
}

export interface PlanFlow {
  cluster: string;
  operation: string;
  hooks: Hook[];
  /** Probes and plans; called after the before_plan hooks. */
  build: () => Promise<Omit<Plan, "content_hash">>;
  /** Lines shown above the plan (what is planned, pre-flight results). */
  header: (plan: Plan) => string[];
  /**
   * Said when the plan has no operation at all (nothing to do: exit 0, nothing saved); a
   * function is given that plan, so it can say what the plan leaves as it is.
   */
  noChanges?: string | ((plan: Omit<Plan, "content_hash">) => string);
}

/**
 * Runs `build` (the before_plan hooks, the probes, then the pure planner), saying at a terminal
 * that it asks the hosts (on many hosts over SSH that takes seconds); a Ctrl-C meanwhile ends
 * it as interruptible() says (probes only read, so nothing was saved or changed).
 */
async function planning<T>(
  ctx: CliContext,
  flow: PlanFlow,
  opts: PlanFlowOptions,
  build: () => Promise<T>,
): Promise<T> {
  if (!opts.json && Deno.stderr.isTerminal()) {
    console.error(`Planning the ${flow.operation} of cluster ${flow.cluster}: asking its hosts…`);
  }
  return await interruptible(
    ctx,
    `Interrupted while planning the ${flow.operation} of cluster ${flow.cluster}: ` +
      "nothing was saved or changed.",
    build,
  );
}

/**
 * Runs `work` (planning, or a plan hook) so that a Ctrl-C meanwhile says `said`, ends the
 * hooks still running with their process groups (started in groups of their own, they do not
 * get the terminal's SIGINT), closes the SSH connections (within 3 s) and exits 130. Without it
 * the runtime's default SIGINT would end mup at once and leave a hook running to its timeout.
 */
async function interruptible<T>(
  ctx: CliContext,
  said: string,
  /** `stopping()`: whether a Ctrl-C is stopping the command (what fails then is its doing). */
  work: (stopping: () => boolean) => Promise<T>,
): Promise<T> {
  const stop = async () => {
    console.error(`\n${said}`);
    await killRunningHooks();
    await Promise.race([ctx.executors.close(), new Promise((r) => setTimeout(r, 3000))]);
    Deno.exit(130);
  };
  // Once stopping, what `work` does next (a hook ended by the stop fails it) is not the outcome:
  // the stop's exit 130 is, so a failure then waits for the stop rather than exit 1 first.
  let stopping: Promise<void> | undefined;
  const handler = () => void (stopping ??= stop());
  Deno.addSignalListener("SIGINT", handler);
  try {
    return await work(() => stopping !== undefined);
  } catch (e) {
    if (stopping) await stopping;
    throw e;
  } finally {
    Deno.removeSignalListener("SIGINT", handler);
  }
}

/** Runs the flow; sets ctx.exitCode. */
export async function planAndApply(
  ctx: CliContext,
  flow: PlanFlow,
  opts: PlanFlowOptions,
): Promise<void> {
  const emitter = new Emitter();
  // Plan-time hook output goes to stderr under --json, so stdout stays one JSON document.
  emitter.on(new PlainRenderer((l) => (opts.json ? console.error(l) : console.log(l))).handle);
  const planHooks = (planPath: string, planId: string) =>
    new HookDispatcher(flow.hooks, {
      clusterName: flow.cluster,
      operation: flow.operation,
      planPath,
      statePath: "",
      planId,
      stateId: "",
    }, emitter);
  const unsealed = await planning(ctx, flow, opts, async () => {
    if (!opts.dryRun) await fireOrFail(planHooks("", ""), "before_plan", flow.operation);
    return await flow.build();
  });
  if (allOperations(unsealed).length) {
    // A deploy's topology validation has said already which hooks no plan runs.
    const said = unsealed.validation.warnings.filter((w) => w.code === "hook_phase_unknown")
      .map((w) => w.message);
    unsealed.validation.warnings.push(
      ...hookPhaseWarnings(unsealed, (phase) => said.some((m) => m.includes(`phase ${phase},`))),
    );
  }
  // Only a plan that starts processes starts them on the recorded release.
  if (
    flow.operation !== "upgrade" && allOperations(unsealed).some((o) => o.type === "start_process")
  ) {
    const w = await unfinishedUpgradeWarning(ctx.store.clusterDir(flow.cluster), flow.cluster);
    if (w) unsealed.validation.warnings.push(w);
  }
  // A plan refused outright (no operations, only errors) is shown with its errors below.
  if (
    flow.noChanges !== undefined && allOperations(unsealed).length === 0 &&
    unsealed.validation.valid
  ) {
    // What the planner noticed without planning anything for it (a member out of its set) is
    // still said.
    const warnings = unsealed.validation.warnings;
    const message = typeof flow.noChanges === "function"
      ? flow.noChanges(unsealed)
      : flow.noChanges;
    if (opts.json) {
      printJsonLine({
        plan_id: null,
        changes: false,
        message,
        ...(warnings.length ? { warnings } : {}),
      });
    } else {
      print(`No changes. ${message}`);
      if (warnings.length) {
        print(["", "Warnings:", ...warnings.map((w) => `  • ${w.message}`)].join("\n"));
      }
    }
    return;
  }
  const stopAtPlan = opts.planOnly || opts.dryRun || opts.planFile;
  // A plan that failed pre-flight is shown, not stored (no cluster directory appears for it);
  // --plan-file still gets it, marked invalid by its validation result.
  const invalid = !unsealed.validation.valid;
  const { plan, path: saved } = opts.dryRun || (invalid && !opts.planFile)
    ? { plan: sealPlan(unsealed), path: undefined }
    : invalid
    ? await ctx.store.writePlanFile(unsealed, opts.planFile!)
    : await ctx.store.savePlan(unsealed, opts.planFile);
  if (saved) {
    await interruptible(
      ctx,
      `Interrupted during the after_plan hooks: plan ${plan.plan_id} was saved (${saved}); ` +
        `nothing was changed.${
          invalid
            ? ""
            : `\nTo apply it (its after_plan hooks do not run again): mup plan apply ${plan.plan_id}`
        }`,
      (stopping) =>
        fireOrFail(planHooks(saved, plan.plan_id), "after_plan", flow.operation).catch(
          async (e) => {
            // A failed after_plan hook rejects the plan (a review or policy gate): it is not
            // kept in the store for a later apply, and the error says so (tester41 M2). One
            // the Ctrl-C ended rejects nothing: the plan stays, as the interrupt says.
            if (!(e instanceof MupError) || invalid || stopping()) throw e;
            await ctx.store.remove(saved).catch(() => {});
            throw new MupError(
              `${e.message}; plan ${plan.plan_id} was not kept${
                opts.planFile ? ` (the copy in ${opts.planFile} is yours: it is not checked)` : ""
              }`,
              e.options,
            );
          },
        ),
    );
  }
  // Plans of this cluster declined at their confirmation are replaced by this one: removed, so
  // they do not pile up (a plan an apply state names is kept).
  if (saved && !invalid) {
    const states = await new StateStore(ctx.store.clusterDir(plan.cluster_name)).list()
      .catch(() => []);
    const gone = await ctx.store.dropDeclined(
      plan.cluster_name,
      plan.plan_id,
      new Set(states.map((s) => s.plan_id)),
    );
    if (gone.length && !opts.json) {
      print(`Removed ${gone.join(", ")}: declined at confirmation, replaced by this plan.`);
    }
  }
  // Under --json an invalid plan is one error document naming the failing checks.
  if (opts.json && invalid) throw preflightFailure(plan, saved, false);
  if (opts.json && (stopAtPlan || invalid)) {
    printJsonLine({
      plan_id: plan.plan_id,
      // What `plan apply --expect-hash` pins, beside the ID (tester89).
      content_hash: plan.content_hash,
      // Beside a no-change plan's `changes: false`, for scripts that test one field (tester84).
      changes: true,
      ...(opts.dryRun ? { dry_run: true } : {}),
      path: saved,
      ...(opts.planFile ? { plan_file: opts.planFile } : {}),
      valid: plan.validation.valid,
      stored: !!saved && !invalid,
      ...(invalid ? { errors: plan.validation.errors } : {}),
      plan,
    });
  } else if (stopAtPlan || !opts.json) {
    for (const l of flow.header(plan)) print(l);
    if (opts.dryRun) {
      // The operations as the review shows them, then the order with hooks (Example 3).
      print(`Dry run: plan ${plan.plan_id} was made but not saved.\n`);
      print(renderPlan(plan, { listAll: NOT_SAVED, unstored: true }) + "\n");
      // An invalid plan would execute nothing: its errors (in the plan above) say why.
      if (plan.validation.valid) print(renderHookSchedule(plan, { listHooks: false }));
      if (plan.validation.valid) {
        print(
          `To apply it: run the same command without --dry-run (it plans again and asks before ` +
            `changing anything), or with --plan-only to save the plan for review, then ` +
            `\`mup plan apply <plan-id>\`.`,
        );
      }
    } else if (invalid) {
      print(`✗ Plan ${plan.plan_id} is not valid; it was not stored.`);
      if (saved) print(`Written, marked invalid, to: ${saved} (as --plan-file asked)`);
      print("");
      print(renderPlan(plan, {
        listAll: saved
          ? `\`mup plan show ${shellQuote(saved)} --all\` lists every one`
          : NOT_STORED_INVALID,
        unstored: true,
      }));
    } else if (stopAtPlan) {
      print(`Plan generated: ${plan.plan_id}`);
      print(`Plan saved to: ${saved}${opts.planFile ? ` and ${opts.planFile}` : ""}`);
      print("");
      print(renderPlan(plan));
      // What a reviewer runs once satisfied (the plan is checked again then: stale, hash, lock).
      if (plan.validation.valid) print(`\nTo apply it: mup plan apply ${plan.plan_id}`);
    } else {
      // The review shows the plan itself before asking (the specification's Example 1).
      print(`✓ Plan generated: ${plan.plan_id} (saved to ${saved})\n`);
      print(renderPlan(plan) + "\n");
    }
  }
  if (!plan.validation.valid) {
    ctx.exitCode = 1;
    if (!opts.json) {
      print(
        "\n✗ Pre-flight checks failed; the plan cannot be applied. Fix the problems above and plan again.",
      );
      // The errors on stderr too, as every other failure's are: a script that keeps only
      // stderr learns why (tester53).
      const errors = plan.validation.errors;
      console.error(
        `Error: plan ${plan.plan_id} is not valid (${errors.length} pre-flight ${
          errors.length === 1 ? "error" : "errors"
        }):\n${errors.map((e) => `  • ${e.message}`).join("\n")}`,
      );
    }
    return;
  }
  if (stopAtPlan) {
    if (opts.detailedExitcode) ctx.exitCode = 2;
    return;
  }
  ctx.exitCode = await runApply(ctx, plan, saved!, opts);
}
