import { Command, Option } from "@commander-js/extra-typings";
import * as path from "node:path";
import { buildDeployPlan } from "../plan/deploy.ts";
import { sealPlan } from "../plan/hash.ts";
import { Variant } from "../plan/schema.ts";
import { Emitter } from "../apply/events.ts";
import { HookDispatcher, HookFailed } from "../apply/hook_events.ts";
import { MupError } from "../errors.ts";
import { compileHooks } from "../hooks/compile.ts";
import { Duration, durationMs } from "../hooks/schema.ts";
import { PlainRenderer } from "../render/apply_plain.ts";
import { loadTopology } from "../topology/load.ts";
import { describeTopology, renderPlan, renderPreflight } from "../render/plan_text.ts";
import { renderHookSchedule } from "../render/hook_schedule.ts";
import { type CliContext, print, printJson } from "./context.ts";
import { type ApplyCliOptions, applyCommandOptions, runApply } from "./apply_cli.ts";
import { configureSsh, type SshCliOptions } from "./ssh_options.ts";

async function fireOrFail(d: HookDispatcher, event: "before_plan" | "after_plan"): Promise<void> {
  try {
    await d.fire(event);
  } catch (e) {
    if (e instanceof HookFailed) {
      throw new MupError(`${e.message}; planning stopped`, {
        hint: "fix the hook or set continue_on_error: true on it",
      });
    }
    throw e;
  }
}

export function clusterCommand(ctx: CliContext): Command {
  const cmd = new Command("cluster").description("Deploy and operate MongoDB clusters");
  const deploy = cmd.command("deploy")
    .description("Plan a deployment and, unless told to stop at the plan, apply it")
    .argument("<name>", "cluster name")
    .argument("<topology>", "topology YAML file (see examples/)")
    .requiredOption("--version <version>", "MongoDB version, e.g. 7.0 (newest 7.0.x) or 7.0.5")
    .addOption(
      new Option("--variant <variant>", "server distribution").choices(Variant.options)
        .default("mongo" as const),
    )
    .option(
      "--mirror <url|dir>",
      "download-center mirror (file path, file:// or http:// URL) instead of the official one",
      Deno.env.get("MUP_MIRROR"),
    )
    .option("--plan-only", "generate and save the plan, then stop")
    .option("--dry-run", "show what apply would do, hooks included; change nothing")
    .option("--plan-file <file>", "also write the plan to this file, then stop")
    .option(
      "--detailed-exitcode",
      "with --plan-only/--dry-run/--plan-file: exit 2 when the plan has changes",
    )
    .option(
      "--wait-timeout <duration>",
      "how long each wait may take (a process answering, a primary elected, a shard added, health), e.g. 2m; recorded in the plan",
    )
    .option("--json", "machine-readable output");
  applyCommandOptions(deploy);
  deploy.action(async (name, topologyFile, opts) => {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(name)) {
      throw new MupError(`invalid cluster name "${name}"`, {
        hint: "use letters, digits, '.', '_' and '-' (it names a directory), e.g. prod-cluster",
      });
    }
    const waitTimeoutMs = opts.waitTimeout === undefined
      ? undefined
      : parseWaitTimeout(opts.waitTimeout);
    const loaded = await loadTopology(topologyFile);
    configureSsh(ctx.executors, loaded.topology, opts as SshCliOptions);
    const hooks = compileHooks(loaded.topology.hooks, path.dirname(path.resolve(topologyFile)));
    const emitter = new Emitter();
    // Plan-time hook output goes to stderr under --json, so stdout stays one JSON document.
    emitter.on(new PlainRenderer((l) => (opts.json ? console.error(l) : console.log(l))).handle);
    const planHooks = (planPath: string, planId: string) =>
      new HookDispatcher(hooks, {
        clusterName: name,
        operation: "deploy",
        planPath,
        statePath: "",
        planId,
        stateId: "",
      }, emitter);
    if (!opts.dryRun) await fireOrFail(planHooks("", ""), "before_plan");
    const unsealed = await buildDeployPlan({
      loaded,
      cluster: name,
      topologyFile,
      version: opts.version,
      variant: opts.variant,
      mirror: opts.mirror,
      cacheDir: ctx.cacheDir,
      store: ctx.store,
      executors: ctx.executors,
      dryRun: !!opts.dryRun,
      waitTimeoutMs,
    });
    const stopAtPlan = opts.planOnly || opts.dryRun || opts.planFile;
    // A plan that failed pre-flight is shown, not stored (no cluster directory appears for it);
    // --plan-file still gets it, marked invalid by its validation result.
    const invalid = !unsealed.validation.valid;
    const { plan, path: saved } = opts.dryRun || (invalid && !opts.planFile)
      ? { plan: sealPlan(unsealed), path: undefined }
      : invalid
      ? await ctx.store.writePlanFile(unsealed, opts.planFile!)
      : await ctx.store.savePlan(unsealed, opts.planFile);
    if (saved) await fireOrFail(planHooks(saved, plan.plan_id), "after_plan");
    if (opts.json && (stopAtPlan || invalid)) {
      printJson({
        plan_id: plan.plan_id,
        path: saved,
        valid: plan.validation.valid,
        stored: !!saved && !invalid,
        ...(invalid ? { errors: plan.validation.errors } : {}),
        plan,
      });
    } else if (stopAtPlan || !opts.json) {
      print(`Planning deployment for cluster: ${name}`);
      print(`MongoDB version: ${plan.version}`);
      print(`Topology: ${describeTopology(plan)}`);
      print("");
      print("Running pre-flight checks...");
      print(renderPreflight(plan));
      print("");
      if (opts.dryRun) {
        print(renderHookSchedule(plan));
      } else if (invalid) {
        print(`✗ Plan ${plan.plan_id} is not valid; it was not stored.`);
        if (saved) print(`Written, marked invalid, to: ${saved} (as --plan-file asked)`);
        print("");
        print(renderPlan(plan));
      } else if (stopAtPlan) {
        print(`Plan generated: ${plan.plan_id}`);
        print(`Plan saved to: ${saved}${opts.planFile ? ` and ${opts.planFile}` : ""}`);
        print("");
        print(renderPlan(plan));
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
      }
      return;
    }
    if (stopAtPlan) {
      if (opts.detailedExitcode) ctx.exitCode = 2;
      return;
    }
    ctx.exitCode = await runApply(ctx, plan, saved!, opts as ApplyCliOptions);
  });
  return cmd as unknown as Command;
}

/** `--wait-timeout`: 30s, 2m, 1h30m or milliseconds; at least 1s. */
function parseWaitTimeout(v: string): number {
  const d = Duration.safeParse(/^\d+$/.test(v) ? Number(v) : v);
  const ms = d.success ? durationMs(d.data) : NaN;
  if (!(ms >= 1000)) {
    throw new MupError(`--wait-timeout must be a duration of at least 1s, not "${v}"`, {
      hint: "write it like 90s, 5m or 1h30m",
    });
  }
  return ms;
}
