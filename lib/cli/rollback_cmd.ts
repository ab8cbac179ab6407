/** `mup state rollback <cluster> --checkpoint <id>`: planned, reviewed and applied like any plan. */
import type { Command } from "@commander-js/extra-typings";
import { buildRollbackPlan, START_CHECKPOINT } from "../plan/rollback_build.ts";
import type { CliContext } from "./context.ts";
import { withoutHooks } from "../hooks/skip.ts";
import { planAndApply, type PlanFlowOptions, planFlowOptions } from "./plan_flow.ts";
import { configureSsh, type SshCliOptions } from "./ssh_options.ts";
import { validateStartPorts } from "../preflight/start_ports.ts";
import { requireCluster } from "./resume_cli.ts";
import { MupError } from "../errors.ts";
import { clusterAccess } from "../security/access.ts";
import { membersGone } from "../apply/safety_sets.ts";
import { allOperations, type Plan } from "../plan/schema.ts";

export function addRollbackCommand(cmd: Command, ctx: CliContext): void {
  const sub = cmd.command("rollback")
    .description(
      "Undo, in reverse dependency order, what an apply did after a checkpoint (stop the " +
        "processes it started, remove what it created); the apply becomes rolled_back",
    )
    .argument("<cluster>")
    .requiredOption(
      "--checkpoint <id>",
      `checkpoint to return to (\`mup state checkpoints\`), or "${START_CHECKPOINT}" for before the apply`,
    )
    .option("--state-id <id>", "the apply to roll back (default: the cluster's current one)")
    .option(
      "--no-hooks",
      "make the plan without the rolled-back plan's hooks (one that fails every time must not " +
        "keep the apply from being undone); the review says which are skipped",
    );
  planFlowOptions(sub, ctx);
  sub.action(async (cluster: string, o: unknown) => {
    const opts = o as PlanFlowOptions & SshCliOptions & {
      checkpoint: string;
      stateId?: string;
      hooks?: boolean;
    };
    // A name mup does not know is said as state list says it, not as a cluster without applies.
    await requireCluster(ctx, cluster);
    let hooks: Awaited<ReturnType<typeof buildRollbackPlan>>["hooks"] = [];
    const build = async () => {
      const plan = await buildRollbackPlan({
        store: ctx.store,
        cluster,
        stateId: opts.stateId,
        checkpoint: opts.checkpoint,
        dryRun: opts.dryRun,
      });
      if (opts.hooks === false) withoutHooks(plan);
      // What it starts again must find its port free, asked over SSH as the apply will.
      configureSsh(ctx.executors, plan.topology, opts, plan.ssh_ports);
      await validateStartPorts(plan, ctx.executors);
      await refuseTakenOut(ctx, cluster, plan);
      hooks = plan.hooks;
      return plan;
    };
    // The rolled-back plan's hooks run for its rollback; they are known once it is read.
    const plan = await build();
    await planAndApply(ctx, {
      cluster,
      operation: "rollback",
      hooks,
      build: () => Promise.resolve(plan),
      header: () => [
        `Planning rollback of cluster ${cluster} to checkpoint ${opts.checkpoint}`,
        "",
      ],
    }, opts);
  });
}

/**
 * A scale-in whose reconfig took a member out is not cancelled: refused before a rollback plan
 * is made (the scale-in stays the cluster's unfinished apply, which `plan resume` completes),
 * rather than failing at its check (set_lists_members), which also runs, fenced, as it applies.
 */
async function refuseTakenOut(
  ctx: CliContext,
  cluster: string,
  plan: Omit<Plan, "content_hash">,
): Promise<void> {
  const checks = allOperations(plan).flatMap((o) => o.pre_conditions)
    .filter((c, i, all) =>
      c.check_type === "set_lists_members" && all.findIndex((d) => d.id === c.id) === i
    );
  if (!checks.length) return;
  const access = clusterAccess(cluster, plan.topology, ctx.executors);
  for (const c of checks) {
    const gone = await membersGone(c, access);
    if (!gone?.length) continue;
    throw new MupError(
      `the scale-in cannot be rolled back: replica set ${c.target} no longer lists ` +
        `${gone.join(", ")} (its replSetReconfig took ${
          gone.length === 1 ? "it" : "them"
        } out), which a rollback cannot undo`,
      {
        hint: `\`mup plan resume ${cluster}\` completes the scale-in; then ` +
          `\`mup cluster scale-out ${cluster} <topology>\` adds members again`,
      },
    );
  }
}
