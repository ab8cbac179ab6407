/** `mup cluster start|stop|restart|destroy`: a planner each, the shared plan → apply flow. */
import type { Command } from "@commander-js/extra-typings";
import * as path from "node:path";
import { recordedHooks } from "../hooks/compile.ts";
import { withoutHooks } from "../hooks/skip.ts";
import { planDestroy } from "../plan/destroy.ts";
import { parseArchiveName } from "../state/archive_name.ts";
import { retainedData, splitHostDir } from "../state/retained.ts";
import type { LifecyclePlanInput } from "../plan/lifecycle.ts";
import { buildLifecyclePlan } from "../plan/lifecycle_build.ts";
import { planRestart } from "../plan/restart.ts";
import { allOperations, type Plan } from "../plan/schema.ts";
import { notStartedRemoved, planStart } from "../plan/start.ts";
import { collect } from "../plan/select.ts";
import { planStop } from "../plan/stop.ts";
import { describeTopology } from "../render/plan_text.ts";
import { listDir } from "../plan/store.ts";
import type { CliContext } from "./context.ts";
import { print, printJson } from "./context.ts";
import { requireMeta } from "./cluster_show.ts";
import { undeployedMeta, unfinishedApply } from "../state/undeployed.ts";
import type { ClusterMeta } from "../state/meta.ts";
import { undoneApply } from "../plan/store_check.ts";
import { listProcesses } from "../plan/processes.ts";
import { recordedProcess } from "../state/meta_from_plan.ts";
import { planAndApply, type PlanFlowOptions, planFlowOptions } from "./plan_flow.ts";
import { configureSsh } from "./ssh_options.ts";
import { refuseOverUnfinishedScaling, refuseOverUnfinishedTlsSwitch } from "./unfinished_switch.ts";
import { durationArg, durationHelp, parseDurationOption, WAIT_TIMEOUT } from "./duration_option.ts";
import { withWaitTimeout } from "../plan/wait_timeout.ts";

interface LifecycleOptions extends PlanFlowOptions {
  /** commander's `--no-hooks`: false when given. */
  hooks?: boolean;
  role?: string[];
  node?: string[];
  force?: boolean;
  retainData?: boolean;
  waitTimeout?: string;
  hostGone?: string[];
}

interface Spec {
  name: string;
  description: string;
  planner: (input: LifecyclePlanInput) => Omit<Plan, "content_hash">;
  /** "No changes. …": `selected` when -R/-N chose the processes; `plan` the empty plan made. */
  noChanges: (cluster: string, selected: boolean, plan: Omit<Plan, "content_hash">) => string;
  filters: boolean;
  // deno-lint-ignore no-explicit-any
  extra?: (cmd: Command<any, any, any>) => void;
}

const SPECS: Spec[] = [
  {
    name: "stop",
    description:
      "Stop a cluster: mongos, then shard members, then config servers; secondaries before primaries",
    planner: planStop,
    noChanges: (c, selected) =>
      selected
        ? `The selected processes of cluster ${c} are already stopped.`
        : `Cluster ${c} is already stopped.`,
    filters: true,
  },
  {
    name: "start",
    description:
      "Start a cluster: config servers, then shard members, then mongos; wait for primaries, verify",
    planner: planStart,
    noChanges: (c, selected, plan) => {
      // Members their set no longer lists are left down: the cluster is not all running.
      const out = notStartedRemoved(plan).length;
      return out
        ? `Every other process of cluster ${c} runs; ${out} ${
          out === 1
            ? "member its set no longer lists stays"
            : "members their sets no longer list stay"
        } down (see the warnings).`
        : selected
        ? `The selected processes of cluster ${c} are already running.`
        : `Cluster ${c} is already running.`;
    },
    filters: true,
  },
  {
    name: "restart",
    description:
      "Rolling restart (secondaries one at a time, step the primary down, then it; config set " +
      "before shards; mongos one at a time), or everything at once with --force",
    planner: planRestart,
    noChanges: (c) => `Nothing of cluster ${c} to restart.`,
    filters: true,
    extra: (cmd) => cmd.option("--force", "restart every process at once (not rolling)"),
  },
  {
    name: "destroy",
    description:
      "Stop everything and remove data, log, config and deploy directories and the cluster's " +
      "metadata; plans, apply states and logs are kept in an archive. Asks for the cluster name",
    planner: planDestroy,
    noChanges: (c) => `Nothing of cluster ${c} to destroy.`,
    filters: false,
    extra: (cmd) =>
      cmd.option("--retain-data", "keep the data directories").option(
        "--host-gone <host>",
        "a host that is gone for good (repeatable): nothing is done there, and what it held " +
          "is forgotten (the review lists it); refused for a host mup can reach",
        collect,
      ),
  },
];

/** Whether a destroyed cluster of this name left an archive (so a second destroy is a no-op). */
async function archived(ctx: CliContext, name: string): Promise<boolean> {
  return (await listDir(path.join(ctx.store.root, "archive"))).some((d) =>
    parseArchiveName(d)?.cluster === name
  );
}

/**
 * The `secrets` directories of the archives earlier destroys of cluster `name` left (the
 * keyfile and admin password a `--retain-data` kept for its data): a destroy removes the
 * cluster's own secrets, not these copies, and says so (tester52).
 */
async function archivedSecrets(ctx: CliContext, name: string): Promise<string[]> {
  const root = path.join(ctx.store.root, "archive");
  const out: string[] = [];
  for (const d of await listDir(root)) {
    if (parseArchiveName(d)?.cluster !== name) continue;
    const dir = path.join(root, d, "secrets");
    if ((await listDir(dir)).length) out.push(dir);
  }
  return out.sort();
}

/** Adds `stop`, `start`, `restart` and `destroy` to the `cluster` command. */
export function addLifecycleCommands(cmd: Command, ctx: CliContext): void {
  for (const spec of SPECS) {
    const sub = cmd.command(spec.name).description(spec.description).argument(
      "<name>",
      "cluster name",
    );
    if (spec.filters) {
      sub.option(
        "-R, --role <role>",
        "only processes of this role (mongod, config, mongos)",
        collect,
      )
        .option("-N, --node <host:port>", "only this process (repeatable)", collect);
    }
    spec.extra?.(sub);
    if (spec.name !== "destroy") {
      sub.option(
        "--wait-timeout <duration>",
        durationHelp(
          WAIT_TIMEOUT,
          "how long each wait may take (a process answering, a member back and caught up, a " +
            "primary elected, health); recorded in the plan",
        ),
        durationArg(WAIT_TIMEOUT),
      );
    }
    sub.option(
      "--no-hooks",
      "make the plan without the cluster's hooks (one that fails every time must not keep " +
        "the cluster from being stopped or removed); the review says which are skipped",
    );
    planFlowOptions(sub, ctx);
    sub.action(async (name: string, o: unknown) => {
      const opts = o as LifecycleOptions;
      const valid = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(name);
      const meta0 = valid && await hasMeta(ctx, name);
      // A cluster whose first deploys failed or were rolled back has no metadata, but what they
      // left (processes, directories, binaries, secrets) is still this cluster's: destroy
      // removes it, planned from its deploy plans (the metadata is described, never written).
      // This holds even when an earlier cluster of the same name was destroyed before.
      const left = spec.name === "destroy" && valid && !meta0
        ? await undeployedMeta(ctx.store.clusterDir(name), (id) => ctx.store.planPath(name, id))
        : undefined;
      if (spec.name === "destroy" && !meta0 && !left && await archived(ctx, name)) {
        // Destroyed with --retain-data: the data is the operator's now; say where it is and
        // how it goes, rather than remove it behind a "nothing to do".
        const kept = (await retainedData(ctx.store.root)).find((r) => r.name === name);
        const message = `Nothing to do: cluster ${name} is already destroyed (its archive is ` +
          `kept).${
            kept
              ? ` Its data was kept (--retain-data) in ${kept.data_dirs.join(", ")}: ` +
                // A scale-in's kept data is a removed member's: no deploy starts on it as is.
                (kept.destroy_kept ? `\`mup cluster deploy ${name} …\` starts on it again; ` : "") +
                "to remove it, " +
                `\`rm -rf ${kept.data_dirs.map((d) => splitHostDir(d).dir).join(" ")}\`${
                  kept.hosts.some((h) => h !== "localhost") ? " on each host" : ""
                }`
              : ""
          }`;
        if (opts.json) {
          printJson({
            plan_id: null,
            changes: false,
            message,
            ...(kept ? { data_kept: { directories: kept.data_dirs, archive: kept.archive } } : {}),
          });
        } else print(message);
        return;
      }
      const recorded = left ?? await requireMeta(ctx, name);
      // A destroy also removes what upgrades installed that the metadata does not list yet
      // (an upgrade stopped part way, or abandoned): their releases, from their plans.
      const meta = spec.name === "destroy"
        ? {
          ...await withUnfinishedScaleOut(ctx, name, recorded),
          earlier_releases: await upgradeReleases(ctx, name, recorded),
        }
        : recorded;
      // Only a destroy may act on a cluster between TLS modes (it removes what is there).
      if (spec.name !== "destroy") {
        await refuseOverUnfinishedTlsSwitch(
          ctx.store.clusterDir(name),
          name,
          `cluster ${spec.name} ${name}`,
        );
        // A start over an unfinished scale-in brings back a member it needs (a down voter it
        // could not do without): every process it starts is in the metadata still, and the
        // same scale-in again replaces it afterwards.
        await refuseOverUnfinishedScaling(
          ctx.store.clusterDir(name),
          name,
          `cluster ${spec.name} ${name}`,
          (st) => spec.name === "start" && st.operation === "scale-in",
        );
      }
      // The probe asks remote hosts over SSH, as the apply does.
      configureSsh(ctx.executors, meta.topology, opts);
      const clusterDir = ctx.store.clusterDir(name);
      await planAndApply(ctx, {
        cluster: name,
        operation: spec.name,
        hooks: opts.hooks === false ? [] : recordedHooks(meta, clusterDir),
        build: async () => {
          const secretCopies = spec.name === "destroy" ? await archivedSecrets(ctx, name) : [];
          const plan = await buildLifecyclePlan(
            (input) =>
              spec.planner({
                ...input,
                force: opts.force,
                retainData: opts.retainData,
                ...(secretCopies.length ? { archivedSecrets: secretCopies } : {}),
              }),
            {
              meta,
              store: ctx.store,
              executors: ctx.executors,
              filter: { roles: opts.role, nodes: opts.node },
              dryRun: opts.dryRun,
              unrecorded: left !== undefined,
              ...(opts.hostGone?.length ? { goneHosts: opts.hostGone } : {}),
            },
          );
          const waitMs = opts.waitTimeout === undefined
            ? undefined
            : parseDurationOption(WAIT_TIMEOUT, opts.waitTimeout);
          const kept = spec.name === "start" ? await keepUnfinishedScaleIn(clusterDir, plan) : plan;
          return withWaitTimeout(opts.hooks === false ? withoutHooks(kept) : kept, waitMs);
        },
        header: (plan) => [
          `Planning ${spec.name} of cluster: ${name}`,
          `Topology: ${describeTopology(plan)}`,
          "",
        ],
        noChanges: (plan) => spec.noChanges(name, !!(opts.role?.length || opts.node?.length), plan),
      }, opts);
    });
  }
}

/**
 * A start over an unfinished scale-in (which refuseOverUnfinishedScaling lets through, to bring
 * back a member the set needs) that starts nothing would only record the status, and so become
 * the cluster's current apply in the scale-in's place: the scale-in could no longer be resumed
 * (tester109 #3). Such a plan is emptied ("No changes"), saying what finishes the scale-in.
 */
async function keepUnfinishedScaleIn<P extends Omit<Plan, "content_hash">>(
  clusterDir: string,
  plan: P,
): Promise<P> {
  if (allOperations(plan).some((o) => o.type === "start_process")) return plan;
  const u = await unfinishedApply(clusterDir);
  if (!u || u.outcome === "running" || u.state.operation !== "scale-in") return plan;
  return {
    ...plan,
    phases: [],
    validation: {
      ...plan.validation,
      // Nothing replaces it: the warning that this plan would is left out (tester110 #5).
      warnings: [...plan.validation.warnings.filter((w) => w.code !== "unfinished_apply"), {
        code: "unfinished_scale_in_kept",
        severity: "warning",
        message: `cluster ${plan.cluster_name}'s unfinished scale-in (apply ${u.state.state_id}) ` +
          "stays its current apply (a start that starts nothing does not replace it): " +
          `\`mup plan resume ${plan.cluster_name}\` finishes it`,
      }],
    },
  };
}

async function hasMeta(ctx: CliContext, name: string): Promise<boolean> {
  return await Deno.stat(path.join(ctx.store.clusterDir(name), "meta.yaml")).then(
    () => true,
    () => false,
  );
}

/**
 * `<variant>-<version>` of every release the cluster's upgrade and deploy plans install (a
 * deploy attempt of another version that failed, onto retained data, left its binaries too),
 * besides the ones the metadata lists (earlier_releases) and the current one. A plan that
 * cannot be read, or whose names do not look like a release, adds nothing.
 */
/**
 * A destroy over an unfinished scale-out removes what that scale-out started too: the cluster
 * is then its plan's topology (the recorded one with the added entries), with their processes.
 * So does one over an unfinished rollback of such a scale-out (cut off before it stopped what
 * the scale-out started; tester77).
 */
async function withUnfinishedScaleOut(
  ctx: CliContext,
  name: string,
  meta: ClusterMeta,
): Promise<ClusterMeta> {
  const clusterDir = ctx.store.clusterDir(name);
  const u = await unfinishedApply(clusterDir);
  let scaleOut = u?.state.operation === "scale-out" ? u.state : undefined;
  const st = u ? await undoneApply(ctx.store, u.state) : undefined;
  if (st?.operation === "scale-out" && st.status !== "rolled_back") scaleOut = st;
  if (!scaleOut?.plan_path) return meta;
  const plan = await ctx.store.load(scaleOut.plan_path).then((l) => l.plan, () => undefined);
  if (!plan) return meta;
  const procs = listProcesses(plan.topology, path.join(clusterDir, "deploy"));
  return { ...meta, topology: plan.topology, processes: procs.map(recordedProcess) };
}

async function upgradeReleases(
  ctx: CliContext,
  name: string,
  meta: { variant: string; version: string; earlier_releases?: string[] },
): Promise<string[]> {
  const out = new Set(meta.earlier_releases ?? []);
  for (const e of await ctx.store.list(name).catch(() => [])) {
    const plan = await Deno.readTextFile(e.path).then(JSON.parse).catch(() => undefined);
    if (plan?.operation !== "upgrade" && plan?.operation !== "deploy") continue;
    const r = `${plan.variant}-${plan.version}`;
    if (/^[a-z]+-[0-9][0-9A-Za-z.-]*$/.test(r) && r !== `${meta.variant}-${meta.version}`) {
      out.add(r);
    }
  }
  return [...out];
}
