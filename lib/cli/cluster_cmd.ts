import { MupError } from "../errors.ts";
import { checkIdentifier } from "../util/ident.ts";
import { Command, Option } from "@commander-js/extra-typings";
import * as path from "node:path";
import { buildDeployPlan } from "../plan/deploy.ts";
import { Variant } from "../plan/schema.ts";
import { compileHooks } from "../hooks/compile.ts";
import { durationArg, durationHelp, parseDurationOption, WAIT_TIMEOUT } from "./duration_option.ts";
import { loadTopology } from "../topology/load.ts";
import { describeTopology, renderPreflight } from "../render/plan_text.ts";
import type { CliContext } from "./context.ts";
import { addShowCommands } from "./cluster_show.ts";
import { addDisplayCommand } from "./cluster_display.ts";
import { addLifecycleCommands } from "./lifecycle_cmd.ts";
import { addCredentialsCommand } from "./credentials_cmd.ts";
import { addTlsCommand } from "./tls_cmd.ts";
import { addReconfigureCommand } from "./reconfigure_cmd.ts";
import { addUpgradeCommand } from "./upgrade_cmd.ts";
import { addScaleOutCommand } from "./scale_out_cmd.ts";
import { addScaleInCommand } from "./scale_in_cmd.ts";
import { planAndApply, type PlanFlowOptions, planFlowOptions } from "./plan_flow.ts";
import { configureSsh, type SshCliOptions } from "./ssh_options.ts";
import { refuseOverUnfinishedScaling, refuseOverUnfinishedTlsSwitch } from "./unfinished_switch.ts";

export function clusterCommand(ctx: CliContext): Command {
  const cmd = new Command("cluster").description("Deploy and operate MongoDB clusters");
  const deploy = cmd.command("deploy")
    .description("Plan a deployment and, unless told to stop at the plan, apply it")
    .argument("<name>", "cluster name")
    .argument("<topology>", "topology YAML file (see examples/)")
    // Checked in the action, so that missing arguments are named first (commander checks
    // mandatory options before arguments).
    .option("--version <version>", "MongoDB version, e.g. 7.0 (newest 7.0.x) or 7.0.5 (required)")
    .addOption(
      new Option("--variant <variant>", "server distribution").choices(Variant.options)
        .default("mongo" as const),
    )
    .option(
      "--mirror <url|dir>",
      "download-center mirror (file path, file:// or http:// URL) instead of the official one " +
        "(default: $MUP_MIRROR; for a recorded cluster, else the mirror its release came from)",
      Deno.env.get("MUP_MIRROR"),
    )
    .option(
      "--wait-timeout <duration>",
      durationHelp(
        WAIT_TIMEOUT,
        "how long each wait may take (a process answering, a primary elected, a shard added, " +
          "health); recorded in the plan",
      ),
      durationArg(WAIT_TIMEOUT),
    );
  planFlowOptions(deploy, ctx);
  deploy.action(async (name, topologyFile, o) => {
    const opts = o as typeof o & PlanFlowOptions;
    checkIdentifier("cluster name", name);
    const version = opts.version;
    if (!version) {
      throw new MupError("required option '--version <version>' not specified", {
        hint: `the MongoDB version to deploy, e.g. \`mup cluster deploy ${name} ${topologyFile} ` +
          "--version 7.0` (the newest 7.0.x) or --version 7.0.14",
      });
    }
    const waitTimeoutMs = opts.waitTimeout === undefined
      ? undefined
      : parseDurationOption(WAIT_TIMEOUT, opts.waitTimeout);
    await refuseOverUnfinishedTlsSwitch(
      ctx.store.clusterDir(name),
      name,
      `cluster deploy ${name} ${topologyFile}`,
    );
    await refuseOverUnfinishedScaling(
      ctx.store.clusterDir(name),
      name,
      `cluster deploy ${name} ${topologyFile}`,
    );
    const loaded = await loadTopology(topologyFile, { variant: opts.variant, version });
    configureSsh(ctx.executors, loaded.topology, opts as SshCliOptions);
    await planAndApply(ctx, {
      cluster: name,
      operation: "deploy",
      hooks: compileHooks(loaded.topology.hooks, path.dirname(path.resolve(topologyFile))),
      build: () =>
        buildDeployPlan({
          loaded,
          cluster: name,
          topologyFile,
          version,
          variant: opts.variant,
          mirror: opts.mirror,
          cacheDir: ctx.cacheDir,
          store: ctx.store,
          executors: ctx.executors,
          dryRun: !!opts.dryRun,
          waitTimeoutMs,
        }),
      header: (plan) => [
        `Planning deployment for cluster: ${name}`,
        `MongoDB version: ${plan.version}`,
        `Topology: ${describeTopology(plan)}`,
        "",
        "Running pre-flight checks...",
        renderPreflight(plan),
        "",
      ],
      noChanges: "The cluster matches the topology.",
    }, opts);
  });
  addShowCommands(cmd as unknown as Command, ctx);
  addDisplayCommand(cmd as unknown as Command, ctx);
  addLifecycleCommands(cmd as unknown as Command, ctx);
  addCredentialsCommand(cmd as unknown as Command, ctx);
  addTlsCommand(cmd as unknown as Command, ctx);
  addReconfigureCommand(cmd as unknown as Command, ctx);
  addUpgradeCommand(cmd as unknown as Command, ctx);
  addScaleOutCommand(cmd as unknown as Command, ctx);
  addScaleInCommand(cmd as unknown as Command, ctx);
  return cmd as unknown as Command;
}
