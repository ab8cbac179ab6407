/** `mup plan diff <cluster|plan>`: what a plan (the cluster's newest) would change now. */
import type { Command } from "@commander-js/extra-typings";
import { FILE_MAKERS, planDiff, withLiveMembers } from "../plan/diff.ts";
import { noChanges, operationsLeft, renderDiff } from "../render/plan_diff.ts";
import { commandOf, replanFlags } from "../plan/command_of.ts";
import { unlistedShards } from "../preflight/repair_live.ts";
import { checkIdentifier } from "../util/ident.ts";
import { readMeta } from "../state/meta.ts";
import { StateStore } from "../state/store.ts";
import { MupError } from "../errors.ts";
import { clusterAccess } from "../security/access.ts";
import { checkNoClash, checkNotStale } from "../apply/stale.ts";
import { canonical } from "../plan/redeploy.ts";
import { interruption } from "../state/lock.ts";
import { type CliContext, print, printJson } from "./context.ts";
import * as path from "node:path";
import { memberDrift } from "../probe/member_options.ts";
import { changedFields } from "../ops/reconfig_members.ts";
import type { ProcessSpec } from "../plan/processes.ts";
import { hostPort } from "../topology/hosts.ts";
import { sha256File } from "../util/file_hash.ts";
import type { Plan } from "../plan/schema.ts";
import { OPERATIONS } from "../ops/registry.ts";
import { configureSsh, type SshCliOptions, sshCommandOptions } from "./ssh_options.ts";

/** A topology by content: key order and absent keys do not count. */
const same = (t: unknown) => canonical(JSON.parse(JSON.stringify(t)));

export function diffCommand(cmd: Command, ctx: CliContext): void {
  const sub = cmd.command("diff")
    .description(
      "What a cluster's newest plan would change against its recorded state and, where its " +
        "processes can be asked, the live one (the start of a process that runs, or the stop of " +
        "one that is down, changes nothing)",
    )
    .argument("<plan>", "cluster name (its newest plan), plan ID, or path to a plan file")
    .option("--json", "machine-readable output")
    .option("--detailed-exitcode", "exit 2 when there are changes, 0 when none");
  // The live cluster is asked as the other commands ask it (remote hosts over SSH).
  sshCommandOptions(sub);
  sub.action(async (ref, o) => {
    const opts = o as SshCliOptions & { json?: boolean; detailedExitcode?: boolean };
    const { plan } = await ctx.store.load(ref);
    // A plan ID or file names its cluster: the plan's, whatever the argument was.
    const cluster = plan.cluster_name;
    checkIdentifier("cluster name", cluster);
    const meta = await readMeta(ctx.store.clusterDir(cluster));
    if (meta) configureSsh(ctx.executors, meta.topology, opts);
    // The live cluster, where it answers: a recorded process that is down would be started.
    const down = meta
      ? await clusterAccess(meta.name, meta.topology, ctx.executors).unanswered(meta.processes)
      : undefined;
    // A restart is an action, not a state to compare with: once applied, nothing of it is
    // left to do (a deploy, start or stop plan is compared with the live cluster instead).
    const { states, unreadable } = await new StateStore(ctx.store.clusterDir(cluster)).scan();
    if (unreadable.length) {
      throw new MupError(
        `the apply history of cluster ${cluster} has holes: ${
          unreadable.map((u) => u.file).join(", ")
        } cannot be read, so whether plan ${plan.plan_id} was applied is not known`,
        {
          hint: "restore the damaged state files from a backup, or move them away if those " +
            "applies do not matter",
          details: { cluster, unreadable: unreadable.map((u) => u.file) },
        },
      );
    }
    const applied = states.findLast((s) =>
      s.status === "completed" && s.plan_id === plan.plan_id &&
      s.plan_hash === plan.content_hash
    );
    // A plan the cluster changed under (and that is neither applied nor being applied) would
    // be refused by apply: its changes are not what would happen, so they are not listed.
    const newest = states.at(-1);
    const inFlight = newest?.plan_id === plan.plan_id && newest.status !== "completed" &&
      newest.status !== "rolled_back";
    // Nor one whose ports or directories another cluster has come to hold: apply refuses it.
    if (!applied && !inFlight) {
      await checkNotStale(plan, ctx.store.clusterDir(cluster));
      await checkNoClash(plan, ctx.store.clusterDir(cluster));
    }
    // An apply recorded as running whose mup is gone (kill -9) is interrupted, not running.
    const cut = inFlight ? await interruption(ctx.store.clusterDir(cluster), newest) : undefined;
    // Members' options changed outside mup, where every process answers: a deploy plan's
    // topology says what they should be (what the plan itself changes is listed as its own).
    // (An applied reconfigure has nothing left, whatever the sets say: not asked.)
    const asksSets = plan.operation === "deploy" ||
      (plan.operation === "reconfigure" && !applied);
    const drift = asksSets && meta && down?.size === 0 && !inFlight
      ? await memberDrift(
        meta,
        plan.topology,
        path.join(ctx.store.clusterDir(cluster), "deploy"),
        clusterAccess(meta.name, meta.topology, ctx.executors),
      )
      : undefined;
    const memberId = (p: ProcessSpec) => `${p.replicaSet}/${hostPort(p.host, p.port)}`;
    const drifted = drift && [...drift.options.map((c) => c.proc), ...drift.removed];
    const computed = planDiff(
      plan,
      meta,
      down,
      inFlight
        ? {
          state_id: newest.state_id,
          status: cut ? "interrupted" : newest.status,
          completed: new Set(
            Object.values(newest.operation_states).filter((o) => o.status === "completed")
              .map((o) => o.id),
          ),
        }
        : undefined,
      {
        drifted: drifted && new Set(drifted.map(memberId)),
        applied: !!applied,
        cached: await cachedArchives(plan),
        made: await madeInPlace(plan, ctx),
      },
    );
    // A reconfigure sets every member of the sets it reconfigures: a planned member's change
    // starts from its live values, and a member changed by hand since is set back too.
    const live = plan.operation === "reconfigure" && drift
      ? withLiveMembers(plan, computed, drift.options)
      : undefined;
    const diff = live?.diff ?? computed;
    const planned = new Set(
      diff.changes.filter((c) => c.resource_type === "replica_set_member" && c.action !== "none")
        .map((c) => c.resource_id),
    );
    // What the plan does not change is listed for a deploy plan, whose topology is the
    // cluster's (a reconfigure's is only what it changes to).
    const unplanned = (p: ProcessSpec) => plan.operation === "deploy" && !planned.has(memberId(p));
    const found = [
      ...(drift?.removed ?? []).filter(unplanned).map((p) => ({
        member: hostPort(p.host, p.port),
        set: p.replicaSet!,
        removed: true,
        live: {},
        topology: {},
      })),
      ...(live?.untouched ?? drift?.options.filter((c) => unplanned(c.proc)) ?? []).map((c) => {
        const keys = changedFields(c.was, c.want);
        return {
          member: c.want.host,
          set: c.proc.replicaSet!,
          live: Object.fromEntries(keys.map((k) => [k, c.was[k]])),
          topology: Object.fromEntries(keys.map((k) => [k, c.want[k]])),
        };
      }),
    ];
    if (found.length) diff.drift = found;
    // A shard removed outside mup (removeShard), whatever the newest plan's kind (a start's
    // "No changes" had hidden it: tester61): a deploy of the topology adds it back.
    const unlisted = meta && down?.size === 0 && !inFlight
      ? await unlistedShards(clusterAccess(meta.name, meta.topology, ctx.executors), meta)
      : [];
    if (unlisted.length) diff.unlisted_shards = unlisted;
    // An upgrade or a TLS switch changes what no live probe here compares (the FCV, the
    // release, the TLS mode): once applied, nothing of it is left to do either.
    // So does a scale-out or scale-in (members added or removed: what it planned to create or
    // remove is the recorded cluster now), and a reconfigure (its files and member options). A
    // deploy applied before the topology changed (a scale-out since) describes a cluster that
    // is no more: planned again, not compared.
    // A rollback, too: what it undid is undone, and anything applied since (a deploy again)
    // is not its to compare with (tester89).
    const action = diff.changes.some((c) => c.action === "restart") ||
      plan.operation === "upgrade" || plan.operation.startsWith("tls-") ||
      plan.operation === "scale-out" || plan.operation === "scale-in" ||
      plan.operation === "reconfigure" || plan.operation === "rollback";
    const reshaped = plan.operation === "deploy" && !!meta &&
      meta.last_plan_id !== plan.plan_id &&
      same(meta.topology) !== same(plan.topology);
    if (applied && (action || reshaped)) {
      const when = applied.completed_at ?? applied.updated_at;
      if (opts.json) {
        printJson({
          cluster,
          plan_id: plan.plan_id,
          applied: { state_id: applied.state_id, completed_at: when },
          changes: [],
          summary: {},
          no_changes: true,
          operations_left: 0,
        });
      } else {
        // The release the cluster runs now (an upgrade since moved it on), not the plan's.
        const now = meta?.version ?? plan.version;
        print(
          `Plan ${plan.plan_id} for cluster ${cluster} (${plan.operation}) was applied ` +
            `(apply ${applied.state_id}, completed ${when}): nothing of it is left to do${
              reshaped ? `, and the cluster's topology changed since (${meta?.updated_at})` : ""
            }. ` +
            "To see what would change now, plan again (e.g. " +
            `\`mup ${
              // What the cluster is now, as recorded: its deploy with the recorded topology.
              plan.operation === "restart" || plan.operation.startsWith("scale-") ||
                plan.operation === "rollback" || reshaped
                ? `cluster deploy ${cluster} ${
                  (!meta?.topology_changed && meta?.topology_file) || "<topology>"
                } --version ${now}`
                : `${
                  commandOf(
                    plan.operation,
                    cluster,
                    plan.operation === "upgrade" ? plan.version : now,
                    plan.topology_file,
                  )
                }${replanFlags(plan)}`} --plan-only\`).`,
        );
      }
      return;
    }
    // An unfinished apply's operations that have not run are work left, resources or not.
    const unrun = operationsLeft(diff);
    if (opts.json) {
      printJson({
        ...diff,
        no_changes: noChanges(diff) && unrun === 0,
        // A plan never applied has every operation left.
        operations_left: !inFlight && !applied
          ? plan.phases.reduce((n, ph) => n + ph.operations.length, 0)
          : unrun,
      });
    } else print(renderDiff(plan, diff));
    if (opts.detailedExitcode && (!noChanges(diff) || unrun > 0)) ctx.exitCode = 2;
  });
}

/**
 * The plan's operations that make files, directories and secrets (FILE_MAKERS) whose effect is
 * in place now, judged as the apply judges it (their isDone: a certificate only when the
 * cluster's CA signed it for its host; a file only with the content the plan writes). A failed
 * first deploy leaves such things made; the diff then does not list them as to create
 * (tester49).
 */
async function madeInPlace(plan: Plan, ctx: CliContext): Promise<Set<string>> {
  const found = new Set<string>();
  const signal = new AbortController().signal;
  const ops = plan.phases.flatMap((ph) => ph.operations);
  const makers = new Set(ops.filter((o) => FILE_MAKERS.has(o.type)).map((o) => o.id));
  for (const op of ops) {
    if (!FILE_MAKERS.has(op.type)) continue;
    // An upload of a file the plan writes anew first (its configuration, generated into
    // staging) is in place only once that is: the staged copy is the old one until then.
    if (op.depends_on.some((d) => makers.has(d) && !found.has(d))) continue;
    const done = await OPERATIONS[op.type as keyof typeof OPERATIONS].isDone({
      op,
      plan,
      stateId: "",
      executors: ctx.executors,
      signal,
      progress: () => {},
      log: () => {},
    }).catch(() => false);
    if (done) found.add(op.id);
  }
  return found;
}

/** The archives the plan's downloads write that are in the cache now with their sha256. */
async function cachedArchives(plan: Plan): Promise<Set<string>> {
  const found = new Set<string>();
  for (const o of plan.phases.flatMap((ph) => ph.operations)) {
    const { archive, sha256 } = o.target.params;
    if (o.type !== "download_binary" || !archive || !sha256) continue;
    if ((await sha256File(archive)) === sha256) found.add(archive);
  }
  return found;
}
