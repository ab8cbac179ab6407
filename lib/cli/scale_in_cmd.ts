/**
 * `mup cluster scale-in <name> [topology] [-N host:port…]`: processes taken out of a running
 * cluster — replica set members and mongos (lib/plan/scale_in.ts) — through the shared plan →
 * apply flow and its flags. The processes are named with `-N` (TiUP's way) or by a topology that
 * is the recorded one without them; any other difference is refused, naming its command.
 */
import type { Command } from "@commander-js/extra-typings";
import * as path from "node:path";
import { MupError } from "../errors.ts";
import { recordedHooks } from "../hooks/compile.ts";
import { withoutHooks } from "../hooks/skip.ts";
import { buildLifecyclePlan } from "../plan/lifecycle_build.ts";
import { withoutAddedEntries, withoutRemovedEntries } from "../plan/added_entries.ts";
import { otherChanges } from "../plan/reconfigure_changes.ts";
import { recordedPorts, refuseOtherDifferences } from "../plan/redeploy.ts";
import { planScaleIn } from "../plan/scale_in.ts";
import { collect, selectProcesses } from "../plan/select.ts";
import { listProcesses, listReplicaSets } from "../plan/processes.ts";
import { clusterAccess } from "../security/access.ts";
import { setsWithClusterWideWriteConcern } from "../probe/default_write_concern.ts";
import type { ExecutorFactory } from "../executor/executor.ts";
import { loadTopology } from "../topology/load.ts";
import { validateTopology } from "../topology/validate.ts";
import { hostKey, hostPort } from "../topology/hosts.ts";
import { onGoneHost } from "../plan/gone_hosts.ts";
import { shellQuote } from "../executor/shell_quote.ts";
import type { Topology } from "../topology/schema.ts";
import { withSecurityDefaults } from "../security/settings.ts";
import { describeTopology } from "../render/plan_text.ts";
import type { ClusterMeta } from "../state/meta.ts";
import type { CliContext } from "./context.ts";
import { requireMeta } from "./cluster_show.ts";
import { planAndApply, type PlanFlowOptions, planFlowOptions } from "./plan_flow.ts";
import { durationArg, durationHelp, parseDurationOption, WAIT_TIMEOUT } from "./duration_option.ts";
import { withWaitTimeout } from "../plan/wait_timeout.ts";
import { configureSsh } from "./ssh_options.ts";
import { refuseOverUnfinishedScaling, refuseOverUnfinishedTlsSwitch } from "./unfinished_switch.ts";

/** Adds `scale-in` to the `cluster` command. */
export function addScaleInCommand(cmd: Command, ctx: CliContext): void {
  const sub = cmd.command("scale-in")
    .description(
      "Take processes out of a running cluster without stopping it: replica set members " +
        "(each removed by its own replSetReconfig on its set's primary; a primary to remove is " +
        "stepped down first; config server members too, every mongos's configuration " +
        "following), whole shards (drained and removed through mongos) and mongos. The " +
        "removed processes are stopped, what stays is " +
        "verified healthy, the metadata records it, then the removed processes' directories " +
        "go (their data too, unless --retain-data). Name them with -N, or give the recorded " +
        "topology (`mup cluster show-config <name>`) without them",
    )
    .argument("<name>", "cluster name")
    .argument("[topology]", "topology YAML file: the recorded topology, entries removed")
    .option("-N, --node <host:port>", "a process to remove (repeatable)", collect)
    .option("--retain-data", "keep the removed members' data directories")
    .option(
      "--host-gone <host>",
      "a host that is gone for good (repeatable): its members are removed from their sets " +
        "through the primaries, nothing is done on it, and its directories are forgotten (the " +
        "review lists them); every process it held must be removed; refused for a host mup " +
        "can reach",
      collect,
    )
    .option(
      "--wait-timeout <duration>",
      durationHelp(
        WAIT_TIMEOUT,
        "how long each wait may take (a shard's draining — 1 hour by default —, health); " +
          "recorded in the plan",
      ),
      durationArg(WAIT_TIMEOUT),
    )
    .option(
      "--no-hooks",
      "make the plan without the cluster's hooks; the review says which are skipped",
    );
  planFlowOptions(sub, ctx);
  sub.action(async (name: string, file: string | undefined, o: unknown) => {
    const opts = o as PlanFlowOptions & {
      hooks?: boolean;
      node?: string[];
      retainData?: boolean;
      waitTimeout?: string;
      hostGone?: string[];
    };
    const meta = await requireMeta(ctx, name);
    if (!file === !opts.node?.length) {
      // With --host-gone and no -N, the processes to remove are at least the gone hosts': the
      // hint gives them (tester96).
      const onGone = meta.processes.filter((p) =>
        (opts.hostGone ?? []).some((h) => onGoneHost([h], p.host))
      ).map((p) => `-N ${shellQuote(hostPort(p.host, p.port))}`);
      const gone = (opts.hostGone ?? []).map((h) => `--host-gone ${shellQuote(h)}`).join(" ");
      throw new MupError(
        file
          ? "give the processes to remove either with -N or by a topology file, not both"
          : "name the processes to remove",
        {
          hint: !file && onGone.length
            ? `every process on ${
              (opts.hostGone ?? []).join(", ")
            } goes: \`mup cluster scale-in ${name} ${onGone.join(" ")} ${gone}\``
            : `\`mup cluster scale-in ${name} -N host:port\` (repeatable), or ` +
              `\`mup cluster scale-in ${name} <topology>\` with the recorded topology ` +
              `(\`mup cluster show-config ${name}\`) without them`,
        },
      );
    }
    const clusterDir = ctx.store.clusterDir(name);
    const request = file ? `${name} ${file}` : `${name} -N ${opts.node!.join(" -N ")}`;
    await refuseOverUnfinishedTlsSwitch(clusterDir, name, `cluster scale-in ${request}`);
    // An unfinished scale-out is refused before -N is matched against the recorded processes:
    // a member it added is not recorded yet, and "matches no process" would not say why
    // (tester50). An unfinished scale-in is judged below, by what this one removes.
    await refuseOverUnfinishedScaling(
      clusterDir,
      name,
      `cluster scale-in ${request}`,
      (st) => st.operation === "scale-in",
    );
    const topology = file
      ? await fromFile(meta, file, path.join(clusterDir, "deploy"))
      : fromNodes(meta, opts.node!, path.join(clusterDir, "deploy"));
    // An unfinished scale-in may be replaced by one that removes at least what it removes.
    const stays = new Set(
      listProcesses(topology, path.join(clusterDir, "deploy")).map((p) =>
        `${hostKey(p.host)}:${p.port}`
      ),
    );
    await refuseOverUnfinishedScaling(
      clusterDir,
      name,
      `cluster scale-in ${request}`,
      async (st) => {
        if (st.operation !== "scale-in" || !st.plan_path) return false;
        const earlier = await ctx.store.load(st.plan_path).then((l) => l.plan, () => undefined);
        const kept = new Set(
          earlier
            ? listProcesses(earlier.topology, path.join(clusterDir, "deploy")).map((p) =>
              `${hostKey(p.host)}:${p.port}`
            )
            : [],
        );
        return !!earlier && [...stays].every((k) => kept.has(k));
      },
    );
    // Each set that stays must keep a member that can be primary, as a topology file given
    // would have to (the planner refuses what removing config servers, mongos or shards breaks).
    const problems = topology.mongod_servers.length
      ? validateTopology(topology, { variant: meta.variant, version: meta.version })
        .filter((i) => i.severity === "error" && i.code === "no_electable").map((i) => i.message)
      : [];
    const hints = problems.length
      ? ["remove fewer members: each set keeps one with priority above 0 that is not an arbiter"]
      : [];
    // What a sharded cluster cannot lose is refused here too, before any plan is shown.
    if (meta.kind === "sharded" && topology.mongod_servers.length) {
      if (!topology.config_servers?.length) {
        const set = meta.topology.config_servers?.[0]?.replica_set;
        problems.push(
          `every config server member (replica set ${set}) would go: a sharded cluster cannot ` +
            "run without its config server replica set",
        );
        hints.push(
          `to move the config servers elsewhere, add the new members first (\`mup cluster ` +
            `scale-out ${name} <topology>\` with them), then remove the old`,
        );
      }
      if (!topology.mongos_servers?.length) {
        problems.push(
          "every mongos would go: applications reach a sharded cluster only through mongos",
        );
        hints.push(
          `to move mongos elsewhere, add the new one first (\`mup cluster scale-out ${name} ` +
            "<topology>` with it), then remove the old",
        );
      }
    }
    if (problems.length) {
      throw new MupError(
        `what would stay of cluster ${name} is not a valid cluster:\n${
          problems.map((m) => `  • ${m}`).join("\n")
        }`,
        { hint: hints.join("; ") },
      );
    }
    if (!topology.mongod_servers.length) {
      // A sharded cluster keeps its config servers and mongos: losing every shard is no destroy.
      throw new MupError(
        meta.kind === "sharded"
          ? `every shard of cluster ${name} would go: a sharded cluster keeps at least one ` +
            "(removeShard cannot remove the last)"
          : `every mongod of cluster ${name} would go: that is \`mup cluster destroy ${name}\``,
        {
          hint: meta.kind === "sharded"
            ? `to move the data to a new shard, add it first (\`mup cluster scale-out ${name} ` +
              "<topology>` with it), then remove the old ones: their data is drained to it"
            : "a scale-in keeps at least one member of each replica set",
        },
      );
    }
    configureSsh(ctx.executors, meta.topology, opts);
    await planAndApply(ctx, {
      cluster: name,
      operation: "scale-in",
      noChanges: `${file ?? "-N"} removes no process of cluster ${name}.`,
      hooks: opts.hooks === false ? [] : recordedHooks(meta, clusterDir),
      build: async () => {
        const balancerOff = await balancerIsOff(meta, topology, ctx.executors, clusterDir);
        // For each set it takes members from: the planner refuses a change of its implicit
        // default write concern without a cluster-wide one (implicit_write_concern.ts).
        const stays = new Set(
          listProcesses(topology, path.join(clusterDir, "deploy")).map((p) => p.id),
        );
        const cwwcSet = await setsWithClusterWideWriteConcern(
          meta,
          ctx.executors,
          clusterDir,
          (s) => s.members.some((m) => !stays.has(m.id)),
        );
        const waitMs = opts.waitTimeout === undefined
          ? undefined
          : parseDurationOption(WAIT_TIMEOUT, opts.waitTimeout);
        const plan = await buildLifecyclePlan(
          (input) =>
            planScaleIn({
              ...input,
              topology,
              balancerOff,
              cwwcSet,
              // By node: no file describes the result (the metadata keeps its own).
              topologyFile: file ? path.resolve(file) : "",
              retainData: opts.retainData,
              waitTimeoutMs: waitMs,
              // Recorded in the plan's request, so that its hints name the same -N.
              ...(opts.node?.length ? { filter: { nodes: opts.node } } : {}),
            }),
          {
            meta,
            store: ctx.store,
            executors: ctx.executors,
            dryRun: opts.dryRun,
            ...(opts.hostGone?.length ? { goneHosts: opts.hostGone } : {}),
          },
        );
        return withWaitTimeout(opts.hooks === false ? withoutHooks(plan) : plan, waitMs);
      },
      header: (plan) => [
        `Planning scale-in of cluster: ${name}`,
        `Topology after it: ${describeTopology(plan)}`,
        "",
      ],
    }, opts);
  });
}

/** The recorded topology without the processes `-N` names (by machine and port). */
function fromNodes(meta: ClusterMeta, nodes: string[], deployDir: string): Topology {
  const gone = new Set(
    selectProcesses(listProcesses(meta.topology, deployDir), { nodes }, meta.name).map((p) =>
      `${hostKey(p.host)}:${p.port}`
    ),
  );
  const keep = <T extends { host: string; port: number }>(l: T[]) =>
    l.filter((e) => !gone.has(`${hostKey(e.host)}:${e.port}`));
  return {
    ...meta.topology,
    config_servers: keep(meta.topology.config_servers),
    mongod_servers: keep(meta.topology.mongod_servers),
    mongos_servers: keep(meta.topology.mongos_servers),
  };
}

/**
 * The recorded topology without the entries `file` lacks. Refuses a file that differs in
 * anything else (added processes, changed members or settings), naming each difference's command.
 */
async function fromFile(meta: ClusterMeta, file: string, deployDir: string): Promise<Topology> {
  const name = meta.name;
  const loaded = await loadTopology(file, { variant: meta.variant, version: meta.version });
  const asked = withSecurityDefaults(recordedPorts(loaded.topology, meta.topology));
  refuseOtherDifferences(meta, asked, deployDir, file, {
    command: "scale-in",
    what: "removed processes",
    does: "cluster scale-in only removes processes",
    edit: "remove entries from it",
  }, file);
  const topology = withoutRemovedEntries(meta.topology, asked);
  const other = otherChanges(topology, withoutAddedEntries(meta.topology, asked));
  if (other.length) {
    throw new MupError(
      `${file} also changes ${other.join(", ")} of cluster ${name}, which a scale-in does not ` +
        "change (it removes processes only)",
      { hint: `give the recorded values there (\`mup cluster show-config ${name}\` prints them)` },
    );
  }
  return topology;
}

/**
 * Whether a shard goes whole and the cluster's balancer is off (balancerStatus through a mongos
 * that stays): draining would never start. A mongos that does not answer says nothing (the
 * apply's own check meets it).
 */
async function balancerIsOff(
  meta: ClusterMeta,
  topology: Topology,
  executors: ExecutorFactory,
  clusterDir: string,
): Promise<boolean> {
  const deployDir = path.join(clusterDir, "deploy");
  const stays = new Set(listProcesses(topology, deployDir).map((p) => p.id));
  const shardGoes = listReplicaSets(listProcesses(meta.topology, deployDir)).some((s) =>
    !s.configsvr && s.members.every((m) => !stays.has(m.id))
  );
  const router = listProcesses(topology, deployDir).find((p) => p.role === "mongos");
  if (!shardGoes || !router) return false;
  const r = await clusterAccess(meta.name, meta.topology, executors)
    .adminCommand(router.host, router.port, { balancerStatus: 1 })
    .catch(() => undefined);
  return r?.mode === "off";
}
