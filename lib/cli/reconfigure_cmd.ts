/**
 * `mup cluster reconfigure <name> <topology>`: a running cluster's runtime_config changed by a
 * rolling restart onto new configuration files (lib/plan/reconfigure.ts), through the shared
 * plan → apply flow and its flags. Any other difference from the recorded cluster is refused,
 * naming the command that makes it.
 */
import {
  concernText,
  defaultWriteConcernChange,
  withDefaultWriteConcern,
} from "../plan/default_write_concern.ts";
import type { Command } from "@commander-js/extra-typings";
import * as path from "node:path";
import { MupError } from "../errors.ts";
import { recordedHooks } from "../hooks/compile.ts";
import { withoutHooks } from "../hooks/skip.ts";
import { buildLifecyclePlan } from "../plan/lifecycle_build.ts";
import { planReconfigure } from "../plan/reconfigure.ts";
import {
  liveDefaultWriteConcern,
  setsWithClusterWideWriteConcern,
} from "../probe/default_write_concern.ts";
import { fixedChanges, otherChanges, withRuntimeConfigs } from "../plan/reconfigure_changes.ts";
import { recordedPorts, refuseOtherDifferences } from "../plan/redeploy.ts";
import { withMemberOptions } from "../plan/member_options.ts";
import { loadTopology } from "../topology/load.ts";
import { withSecurityDefaults } from "../security/settings.ts";
import { describeTopology } from "../render/plan_text.ts";
import type { CliContext } from "./context.ts";
import { requireMeta } from "./cluster_show.ts";
import { planAndApply, type PlanFlowOptions, planFlowOptions } from "./plan_flow.ts";
import { configureSsh } from "./ssh_options.ts";
import { refuseOverUnfinishedScaling, refuseOverUnfinishedTlsSwitch } from "./unfinished_switch.ts";
import { recordedConfigs } from "../plan/start_files.ts";
import { hostPort } from "../topology/hosts.ts";
import { sha256Hex } from "../util/hash.ts";
import type { ClusterMeta } from "../state/meta.ts";
import type { ExecutorFactory } from "../executor/executor.ts";
import { allOperations } from "../plan/schema.ts";
import { durationArg, durationHelp, parseDurationOption, WAIT_TIMEOUT } from "./duration_option.ts";
import { withWaitTimeout } from "../plan/wait_timeout.ts";

/** Adds `reconfigure` to the `cluster` command. */
export function addReconfigureCommand(cmd: Command, ctx: CliContext): void {
  const sub = cmd.command("reconfigure")
    .description(
      "Change a running cluster's runtime_config, its replica-set members' priority, votes " +
        "and hidden, and its global.default_write_concern, without stopping it. The processes " +
        "whose configuration changes get " +
        "their new configuration file, then a rolling restart of them (config servers, each " +
        "set's secondaries then its stepped-down primary, mongos one at a time); members whose " +
        "options differ from the topology (changed in it, or by hand outside mup) get them by " +
        "one replSetReconfig each on their set's primary; a changed default write concern is " +
        "set by setDefaultRWConcern (on each set's primary, or through mongos) before them. " +
        "The metadata records the new " +
        "topology last. The topology is the recorded one (`mup cluster show-config <name>`) " +
        "with those changed",
    )
    .argument("<name>", "cluster name")
    .argument(
      "<topology>",
      "topology YAML file: the recorded topology, runtime_config or member options changed",
    )
    .option(
      "--no-hooks",
      "make the plan without the cluster's hooks; the review says which are skipped",
    )
    .option(
      "--wait-timeout <duration>",
      durationHelp(
        WAIT_TIMEOUT,
        "how long each wait may take (a restarted member back and caught up, a primary " +
          "elected, a majority acknowledging the default write concern, health); recorded in " +
          "the plan",
      ),
      durationArg(WAIT_TIMEOUT),
    );
  planFlowOptions(sub, ctx);
  sub.action(async (name: string, file: string, o: unknown) => {
    const opts = o as PlanFlowOptions & { hooks?: boolean; waitTimeout?: string };
    const meta = await requireMeta(ctx, name);
    const clusterDir = ctx.store.clusterDir(name);
    await refuseOverUnfinishedTlsSwitch(clusterDir, name, `cluster reconfigure ${name} ${file}`);
    await refuseOverUnfinishedScaling(clusterDir, name, `cluster reconfigure ${name} ${file}`);
    // Checked for the release the cluster runs: an option its series no longer knows is an error.
    const loaded = await loadTopology(file, { variant: meta.variant, version: meta.version });
    // With its security defaults written out, as a deploy records it (auth on unless off).
    const asked = withSecurityDefaults(recordedPorts(loaded.topology, meta.topology));
    // What is planned and recorded: the recorded topology with the asked runtime_config and
    // members' priority, votes and hidden.
    const topology = withDefaultWriteConcern(
      withMemberOptions(withRuntimeConfigs(meta.topology, asked), asked),
      asked,
    );
    // The default write concern is a reconfigure's to change, but MongoDB cannot unset one: said
    // as such, not as a difference another command makes (tester71).
    const recordedConcern = meta.topology.global.default_write_concern;
    if (recordedConcern && defaultWriteConcernChange(meta.topology, asked) === "unset") {
      throw new MupError(
        `${file} leaves out global.default_write_concern, which cluster ${name} has set to ` +
          `${concernText(recordedConcern)} (setDefaultRWConcern): MongoDB keeps a cluster-wide ` +
          "default write concern once set, and can change it but not unset it",
        {
          hint: "keep global.default_write_concern in the topology (`mup cluster show-config " +
            `${name}\` prints it), or give it another value ({w: 1} acknowledges a write on the ` +
            "primary alone)",
        },
      );
    }
    refuseOtherDifferences(meta, asked, path.join(clusterDir, "deploy"), file, {
      command: "reload",
      also: ["member options"],
      what: "runtime_config, members' priority, votes and hidden, and the default write concern",
      does: "cluster reconfigure changes runtime_config, members' priority, votes and hidden, " +
        "and global.default_write_concern only",
      edit: "change those",
    });
    const fixed = fixedChanges(meta.topology, topology, path.join(clusterDir, "deploy"));
    if (fixed.length) {
      throw new MupError(
        `${file} changes settings fixed when the data files were made:\n${
          fixed.map((f) => `  • ${f}`).join("\n")
        }\nmongod refuses to start on existing data with another value`,
        {
          hint: "keep their recorded values (`mup cluster show-config " + name +
            "`); another storage layout needs new data files: a new cluster, the data moved " +
            "with mongodump/mongorestore",
        },
      );
    }
    // The default write concern is a reconfigure's to set (one left out was refused above).
    const besides = otherChanges(meta.topology, asked).filter((f) =>
      f !== "global.default_write_concern"
    );
    if (besides.length) {
      throw new MupError(
        `${file} also changes ${besides.join(", ")} of cluster ${name}, which a reconfigure ` +
          "does not change (it changes runtime_config, members' priority, votes and hidden, and " +
          "global.default_write_concern only)",
        {
          hint: "give the recorded values there (`mup cluster show-config " + name +
            "` prints them); hooks are recorded by `mup cluster deploy` of the recorded topology",
        },
      );
    }
    // A reconfigure that did not finish (or that another plan replaced since) left files and
    // processes the metadata does not describe: a configuration file on a host that is not the
    // one mup generates from the metadata says so (one that failed before writing any did not).
    // Its hosts are asked with the topology's and the flags' SSH settings.
    configureSsh(ctx.executors, meta.topology, opts);
    const drifted = await configsDrifted(meta, path.join(clusterDir, "deploy"), ctx.executors);
    const afterUnfinished = drifted.length > 0;
    await planAndApply(ctx, {
      cluster: name,
      operation: "reconfigure",
      noChanges: `Cluster ${name} already runs this runtime_config${
        topology.global.default_write_concern
          ? ", these member options and this default write concern"
          : " and these member options"
      }.`,
      hooks: opts.hooks === false ? [] : recordedHooks(meta, clusterDir),
      build: async () => {
        // Sets with a voting arbiter: a member's votes changed may change their implicit
        // default write concern, which the planner refuses without a cluster-wide one.
        const cwwcSet = await setsWithClusterWideWriteConcern(
          meta,
          ctx.executors,
          ctx.store.clusterDir(name),
          (s) => s.members.some((m) => m.arbiterOnly && m.votes > 0),
        );
        // The default write concern in force, where one is recorded: set back when it differs.
        const liveWriteConcern = topology.global.default_write_concern
          ? await liveDefaultWriteConcern(meta, ctx.executors, ctx.store.clusterDir(name))
          : undefined;
        const built = await buildLifecyclePlan(
          (input) =>
            planReconfigure({
              ...input,
              topology,
              topologyFile: path.resolve(file),
              afterUnfinished,
              cwwcSet,
              liveWriteConcern,
            }),
          { meta, store: ctx.store, executors: ctx.executors, dryRun: opts.dryRun },
        );
        // Why every process is written again and restarted, when only some change (tester61).
        if (drifted.length && allOperations(built).length) {
          built.validation.warnings.push({
            code: "config_files_differ",
            severity: "warning",
            message: `${driftWords(drifted)}: every process's file is written again, and ` +
              "each process restarted on it",
          });
        }
        // What the topology's own checks warn of (one voter, an even number of them…), as a
        // deploy's review shows it.
        if (allOperations(built).length) {
          built.validation.warnings.push(...loaded.warnings.map((w) => ({
            code: w.code,
            severity: "warning" as const,
            message: `${w.location.path}: ${w.message}`,
          })));
        }
        const waitMs = opts.waitTimeout === undefined
          ? undefined
          : parseDurationOption(WAIT_TIMEOUT, opts.waitTimeout);
        return withWaitTimeout(opts.hooks === false ? withoutHooks(built) : built, waitMs);
      },
      header: (plan) => [
        `Planning reconfiguration of cluster: ${name}`,
        `Topology: ${describeTopology(plan)}`,
        "",
      ],
    }, opts);
  });
}

/** Why a process's configuration file is not known to be the one mup generates. */
type Drift = "differs" | "gone" | "unread";

/** A process (host:port) whose file drifted, how, and for "unread" the host's error. */
interface Drifted {
  process: string;
  drift: Drift;
  why?: string;
}

/**
 * The processes whose configuration file on their host is not known to be the one mup generates
 * from the metadata (sha256): it differs, it is gone, or its host could not be asked. Each
 * counts (every file is written again), and the warning says which it was.
 */
async function configsDrifted(
  meta: ClusterMeta,
  deployDir: string,
  executors: ExecutorFactory,
): Promise<Drifted[]> {
  const expected = recordedConfigs(meta, deployDir);
  const found = await Promise.all(meta.processes.map(async (p): Promise<Drifted | undefined> => {
    const want = expected.get(p.id);
    if (want === undefined) return undefined;
    const process = hostPort(p.host, p.port);
    try {
      const have = await executors.forHost(p.host).sha256(p.config);
      if (have === undefined) return { process, drift: "gone" };
      return have === sha256Hex(want) ? undefined : { process, drift: "differs" };
    } catch (e) {
      const why = (e instanceof Error ? e.message : String(e)).split("\n")[0].trim();
      return { process, drift: "unread", why };
    }
  }));
  return found.filter((d) => d !== undefined);
}

/** The warning's words for the drifted files, by kind (each kind once, naming its processes). */
function driftWords(drifted: Drifted[]): string {
  const one = (of: string[], singular: string, plural = singular) =>
    `the configuration file of ${of.join(", ")} ${of.length === 1 ? singular : plural}`;
  const of = (kind: Drift) => drifted.filter((d) => d.drift === kind).map((d) => d.process);
  const parts: string[] = [];
  if (of("differs").length) {
    parts.push(
      one(of("differs"), "on its host differs", "on their hosts differ") +
        " from the one mup generates from the metadata (edited by hand, or a reconfigure that " +
        "did not finish)",
    );
  }
  if (of("gone").length) parts.push(one(of("gone"), "is gone from its host", "are gone"));
  for (const d of drifted.filter((d) => d.drift === "unread")) {
    parts.push(
      one([d.process], `could not be read on its host (${d.why})`) +
        ", so mup cannot tell whether it is the one it generates from the metadata",
    );
  }
  return parts.join("; ");
}
