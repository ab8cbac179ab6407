/**
 * `mup cluster tls <name> enable|disable`: TLS switched on a running cluster by a rolling change
 * (lib/plan/tls.ts), through the shared plan → apply flow and its flags.
 */
import type { Command } from "@commander-js/extra-typings";
import { MupError } from "../errors.ts";
import { recordedHooks } from "../hooks/compile.ts";
import { withoutHooks } from "../hooks/skip.ts";
import { buildLifecyclePlan } from "../plan/lifecycle_build.ts";
import { planTls } from "../plan/tls.ts";
import { securityOf } from "../security/settings.ts";
import { describeTopology } from "../render/plan_text.ts";
import type { CliContext } from "./context.ts";
import { requireMeta } from "./cluster_show.ts";
import { planAndApply, type PlanFlowOptions, planFlowOptions } from "./plan_flow.ts";
import { configureSsh } from "./ssh_options.ts";
import { refuseOverUnfinishedScaling, refuseOverUnfinishedTlsSwitch } from "./unfinished_switch.ts";

/** Adds `tls` to the `cluster` command. */
export function addTlsCommand(cmd: Command, ctx: CliContext): void {
  const sub = cmd.command("tls")
    .description(
      "Switch TLS on or off on a running cluster without stopping it (MongoDB's rolling " +
        "procedure). enable: certificates, a rolling restart with tlsMode allowTLS, then " +
        "setParameter preferTLS and requireTLS on every process, configurations kept at " +
        "requireTLS. disable: rolling restarts through preferTLS, allowTLS, then no TLS. The " +
        "metadata changes last",
    )
    .argument("<name>", "cluster name")
    .argument("<action>", "enable or disable")
    .option(
      "--no-hooks",
      "make the plan without the cluster's hooks (one that fails every time must not keep " +
        "TLS from being switched); the review says which are skipped",
    );
  planFlowOptions(sub, ctx);
  sub.action(async (name: string, action: string, o: unknown) => {
    const opts = o as PlanFlowOptions & { hooks?: boolean };
    if (action !== "enable" && action !== "disable") {
      throw new MupError(`unknown action "${action}": use enable or disable`, {
        hint: `mup cluster tls ${name} enable`,
      });
    }
    const meta = await requireMeta(ctx, name);
    await refuseOverUnfinishedTlsSwitch(
      ctx.store.clusterDir(name),
      name,
      `cluster tls ${name} ${action}`,
    );
    await refuseOverUnfinishedScaling(
      ctx.store.clusterDir(name),
      name,
      `cluster tls ${name} ${action}`,
    );
    const on = securityOf(meta.topology).tls;
    if (on === (action === "enable")) {
      throw new MupError(`TLS is already ${on ? "enabled" : "disabled"} on cluster ${name}`, {
        hint: `nothing to do; \`mup cluster tls ${name} ${
          on ? "disable" : "enable"
        }\` switches it ${on ? "off" : "on"}`,
      });
    }
    configureSsh(ctx.executors, meta.topology, opts);
    const clusterDir = ctx.store.clusterDir(name);
    await planAndApply(ctx, {
      cluster: name,
      operation: `tls-${action}`,
      hooks: opts.hooks === false ? [] : recordedHooks(meta, clusterDir),
      build: async () => {
        const plan = await buildLifecyclePlan((input) => planTls({ ...input, action }), {
          meta,
          store: ctx.store,
          executors: ctx.executors,
          dryRun: opts.dryRun,
          needsEveryProcess: true,
        });
        return opts.hooks === false ? withoutHooks(plan) : plan;
      },
      header: (plan) => [
        `Planning TLS ${action} of cluster: ${name}`,
        `Topology: ${describeTopology(plan)}`,
        "",
      ],
    }, opts);
  });
}
