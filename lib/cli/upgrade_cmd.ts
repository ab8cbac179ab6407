/**
 * `mup cluster upgrade <name> --version <v>`: new server binaries on a running cluster by a
 * rolling change (lib/plan/upgrade.ts), through the shared plan → apply flow and its flags.
 */
import { type Command, Option } from "@commander-js/extra-typings";
import { MupError } from "../errors.ts";
import { recordedHooks } from "../hooks/compile.ts";
import { withoutHooks } from "../hooks/skip.ts";
import { Variant } from "../plan/schema.ts";
import { buildUpgradePlan } from "../plan/upgrade_build.ts";
import { NEXT_SERIES } from "../plan/upgrade.ts";
import { describeTopology } from "../render/plan_text.ts";
import type { CliContext } from "./context.ts";
import { requireMeta } from "./cluster_show.ts";
import { planAndApply, type PlanFlowOptions, planFlowOptions } from "./plan_flow.ts";
import { configureSsh } from "./ssh_options.ts";
import { refuseOverUnfinishedScaling, refuseOverUnfinishedTlsSwitch } from "./unfinished_switch.ts";

interface UpgradeOptions extends PlanFlowOptions {
  version?: string;
  variant?: Variant;
  mirror?: string;
  setFcv?: boolean;
  /** commander's `--no-hooks`: false when given. */
  hooks?: boolean;
}

/** Adds `upgrade` to the `cluster` command. */
export function addUpgradeCommand(cmd: Command, ctx: CliContext): void {
  const sub = cmd.command("upgrade")
    .description(
      "Upgrade a running cluster's MongoDB binaries one process at a time (MongoDB's rolling " +
        "procedure; a standalone or a one-member set is down while it restarts): the release " +
        "installed on every host; the balancer stopped if it runs (sharded); " +
        "config servers, then each replica set (secondaries one at a time, then the " +
        "stepped-down primary), then mongos restarted on the new binaries; the balancer " +
        "started again. One release series at a time (6.0 → 7.0), from the old series' " +
        "feature compatibility version, which --set-fcv raises at the end. The metadata " +
        "records the new release last",
    )
    .argument("<name>", "cluster name")
    .option("--version <version>", "the MongoDB version to run, e.g. 7.0 (newest 7.0.x) or 7.0.14")
    .addOption(
      new Option("--variant <variant>", "server distribution (default: the cluster's)").choices(
        Variant.options,
      ),
    )
    .option(
      "--mirror <url|dir>",
      "download-center mirror (file path, file:// or http:// URL) instead of the official one " +
        "(default: $MUP_MIRROR, else the mirror the cluster's release came from)",
      Deno.env.get("MUP_MIRROR"),
    )
    .option(
      "--set-fcv",
      "raise the feature compatibility version to the new series once every process runs it " +
        "(after it, the binaries cannot go back to an older release without MongoDB's " +
        "support); with the version the cluster " +
        "already runs, only that",
    )
    .option(
      "--no-hooks",
      "make the plan without the cluster's hooks; the review says which are skipped",
    );
  planFlowOptions(sub, ctx);
  sub.action(async (name: string, o: unknown) => {
    const opts = o as UpgradeOptions;
    const meta = await requireMeta(ctx, name);
    if (!opts.version) {
      // The example is where this cluster can go: the next series, else its own newest patch.
      const series = meta.version.split(".").slice(0, 2).join(".");
      const next = NEXT_SERIES[series] ?? series;
      throw new MupError("required option '--version <version>' not specified", {
        hint: `the MongoDB version to run: \`mup cluster upgrade ${name} --version ${next}\` ` +
          `runs the newest ${next}.x (${
            next === series
              ? `a patch release of the ${series} it runs`
              : `the series after ${series}`
          }); --version <x.y.z> runs one release`,
      });
    }
    await refuseOverUnfinishedTlsSwitch(
      ctx.store.clusterDir(name),
      name,
      `cluster upgrade ${name}`,
    );
    await refuseOverUnfinishedScaling(
      ctx.store.clusterDir(name),
      name,
      `cluster upgrade ${name}`,
    );
    configureSsh(ctx.executors, meta.topology, opts);
    const clusterDir = ctx.store.clusterDir(name);
    await planAndApply(ctx, {
      cluster: name,
      operation: "upgrade",
      hooks: opts.hooks === false ? [] : recordedHooks(meta, clusterDir),
      build: async () => {
        const plan = await buildUpgradePlan({
          meta,
          version: opts.version!,
          variant: opts.variant ?? meta.variant,
          // The release recorded its mirror: an upgrade within it (or an FCV-only one, by
          // series) needs no --mirror again.
          mirror: opts.mirror ?? meta.release?.mirror,
          setFcv: !!opts.setFcv,
          cacheDir: ctx.cacheDir,
          store: ctx.store,
          executors: ctx.executors,
          dryRun: opts.dryRun,
        });
        return opts.hooks === false ? withoutHooks(plan) : plan;
      },
      header: (plan) => [
        `Planning upgrade of cluster: ${name} (${meta.variant} ${meta.version} → ${plan.variant} ${plan.version})`,
        `Topology: ${describeTopology(plan)}`,
        "",
      ],
      noChanges: `Cluster ${name} already runs ${meta.variant} ${meta.version}${
        opts.setFcv ? " at its feature compatibility version" : ""
      }.`,
    }, opts);
  });
}
