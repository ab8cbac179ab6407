/**
 * `mup cluster scale-out <name> <topology>`: processes added to a running cluster — replica set
 * members, shards, mongos (lib/plan/scale_out.ts) — through the shared plan → apply flow and its
 * flags. Any other difference from the recorded cluster is refused, naming the command that
 * makes it.
 */
import type { Command } from "@commander-js/extra-typings";
import { recordedHooks } from "../hooks/compile.ts";
import { withoutHooks } from "../hooks/skip.ts";
import { buildScaleOutPlan } from "../plan/scale_out_build.ts";
import { loadTopology } from "../topology/load.ts";
import { describeTopology, renderPreflight } from "../render/plan_text.ts";
import type { CliContext } from "./context.ts";
import { requireMeta } from "./cluster_show.ts";
import { durationArg, durationHelp, parseDurationOption, WAIT_TIMEOUT } from "./duration_option.ts";
import { planAndApply, type PlanFlowOptions, planFlowOptions } from "./plan_flow.ts";
import { configureSsh } from "./ssh_options.ts";
import { refuseOverUnfinishedScaling, refuseOverUnfinishedTlsSwitch } from "./unfinished_switch.ts";

/** Adds `scale-out` to the `cluster` command. */
export function addScaleOutCommand(cmd: Command, ctx: CliContext): void {
  const sub = cmd.command("scale-out")
    .description(
      "Add processes to a running cluster without stopping it: members of its replica sets " +
        "(each added by its own replSetReconfig, then waited for until SECONDARY and caught " +
        "up; config server members too, every mongos's configuration following), new shards " +
        "(initiated and added through mongos) and mongos. The topology is the " +
        "recorded one (`mup cluster show-config <name>`) with the new entries added; the " +
        "metadata records them last",
    )
    .argument("<name>", "cluster name")
    .argument("<topology>", "topology YAML file: the recorded topology, new entries added")
    .option(
      "--no-hooks",
      "make the plan without the cluster's hooks; the review says which are skipped",
    )
    .option(
      "--wait-timeout <duration>",
      durationHelp(
        WAIT_TIMEOUT,
        "how long each wait may take (a process answering, a member SECONDARY, a shard " +
          "added, health); recorded in the plan. A new member's wait until SECONDARY " +
          "(its initial sync) gets 1h unless given",
      ),
      durationArg(WAIT_TIMEOUT),
    );
  planFlowOptions(sub, ctx);
  sub.action(async (name: string, file: string, o: unknown) => {
    const opts = o as PlanFlowOptions & { hooks?: boolean; waitTimeout?: string };
    const meta = await requireMeta(ctx, name);
    const clusterDir = ctx.store.clusterDir(name);
    await refuseOverUnfinishedTlsSwitch(clusterDir, name, `cluster scale-out ${name} ${file}`);
    // An unfinished scale-out may be replaced by another (buildScaleOutPlan checks it keeps its
    // entries); an unfinished scale-in may not.
    await refuseOverUnfinishedScaling(
      clusterDir,
      name,
      `cluster scale-out ${name} ${file}`,
      (st) => st.operation === "scale-out",
    );
    // Checked for the release the cluster runs, as its new processes will run it.
    const loaded = await loadTopology(file, { variant: meta.variant, version: meta.version });
    configureSsh(ctx.executors, loaded.topology, opts);
    const hooks = opts.hooks === false ? [] : recordedHooks(meta, clusterDir);
    await planAndApply(ctx, {
      cluster: name,
      operation: "scale-out",
      noChanges: `${file} adds no process to cluster ${name}.`,
      hooks,
      build: async () => {
        const plan = await buildScaleOutPlan({
          meta,
          loaded,
          topologyFile: file,
          store: ctx.store,
          executors: ctx.executors,
          cacheDir: ctx.cacheDir,
          hooks,
          dryRun: !!opts.dryRun,
          waitTimeoutMs: opts.waitTimeout === undefined
            ? undefined
            : parseDurationOption(WAIT_TIMEOUT, opts.waitTimeout),
        });
        return opts.hooks === false ? withoutHooks(plan) : plan;
      },
      header: (plan) => [
        `Planning scale-out of cluster: ${name}`,
        `Topology: ${describeTopology(plan)}`,
        "",
        "Running pre-flight checks...",
        renderPreflight(plan),
        "",
      ],
    }, opts);
  });
}
