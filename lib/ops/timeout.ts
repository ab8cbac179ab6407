import * as path from "node:path";
import { replanCommand, replanFlags } from "../plan/command_of.ts";
import { DURATION_MAX_MS, DURATION_MIN_MS } from "../topology/bounds.ts";
import type { OperationContext } from "./operation.ts";
import { allOperations } from "../plan/schema.ts";
import { hostKey, hostPort, machinePort, splitHostPort } from "../topology/hosts.ts";
import { isLocalHost as isLocal } from "../topology/schema.ts";
import { shellQuote } from "../executor/shell_quote.ts";
import { formatDuration } from "../util/format.ts";
import { tlsSwitchBegunAt } from "../plan/mark_op.ts";

/**
 * A wait's timeout from the plan (`timeout_ms` of the operation's target, a number; a plan made
 * before kept it as a string in its params), or its default, in ms. A plan is untrusted input: a
 * value beyond the duration bounds (topology/bounds.ts) is held to them, so no timer it reaches
 * (the driver's included) overflows.
 */
export function planTimeoutMs(ctx: OperationContext, dflt: number): number {
  const t = ctx.op.target;
  const v = Number(t.timeout_ms ?? t.params.timeout_ms ?? dflt);
  return Number.isFinite(v) && v > 0
    ? Math.min(Math.max(v, DURATION_MIN_MS), DURATION_MAX_MS)
    : dflt;
}

/**
 * How long a wait that gave up took, for its message: "after 60s", or, when looking at the
 * servers stretched it past its timeout (a member that accepts connections and does not answer
 * holds each look for the driver's server selection time), the time it took and its timeout:
 * "after 1m 40s (its timeout is 60s)". `t0` from Date.now(), `timeout` in ms; `word` says the
 * timeout alone ("within 60s" where the sentence reads better so).
 */
export function waitedFor(
  t0: number,
  timeout: number,
  word: "after" | "within" = "after",
  now = Date.now(),
): string {
  const took = now - t0;
  return took > timeout + 5000
    ? `after ${formatDuration(took)} (its timeout is ${timeout / 1000}s)`
    : `${word} ${timeout / 1000}s`;
}

/**
 * The end of a timeout message: which timeout expired (the operation's `timeout_ms` in the
 * plan) and how to wait longer: a deploy is planned again with `--wait-timeout` (a plan is
 * applied as recorded), a start, stop or restart resumed (the wait starts over) or planned
 * again with it; the other commands have no such option, and a resume waits again.
 */
export function timeoutHint(ctx: OperationContext, ms: number): string {
  const which = `the wait is operation ${ctx.op.id}'s timeout_ms (${
    ms / 1000
  }s) in plan ${ctx.plan.plan_id}`;
  const resume = `to wait again, resume it once the server is ready (\`mup plan resume ` +
    `${ctx.plan.cluster_name}\`): the wait starts over`;
  if (["start", "stop", "restart"].includes(ctx.plan.operation)) {
    return `${which}; ${resume}, or plan again with a longer --wait-timeout (e.g. \`mup ` +
      `cluster ${ctx.plan.operation} ${ctx.plan.cluster_name}${
        replanFlags(ctx.plan)
      } --wait-timeout ${Math.ceil((ms * 2) / 1000)}s\`)`;
  }
  if (ctx.plan.operation === "scale-out") {
    return `${which}; ${resume}, or plan again with a longer --wait-timeout (e.g. \`mup ` +
      `cluster scale-out ${ctx.plan.cluster_name} ${
        ctx.plan.topology_file ? shellQuote(ctx.plan.topology_file) : "<topology>"
      } --wait-timeout ${Math.ceil((ms * 2) / 1000)}s\`)`;
  }
  if (ctx.plan.operation !== "deploy") return `${which}; ${resume}`;
  return `${which}; to wait longer, plan again with --wait-timeout (e.g. \`mup cluster deploy ${ctx.plan.cluster_name} ${
    ctx.plan.topology_file ? shellQuote(ctx.plan.topology_file) : "<topology>"
  } --version ${ctx.plan.version} --wait-timeout ${Math.ceil((ms * 2) / 1000)}s\`)`;
}

/**
 * Why a replica set may have no primary, and how to give it one, for a membership change that
 * found none: MongoDB elects a primary only while a majority of the set's votes run ("Replica
 * Set Elections").
 */
export function noPrimaryCause(ctx: OperationContext): string {
  const name = ctx.plan.cluster_name;
  return `a set elects a primary only while a majority of its voting members run: ` +
    `\`mup cluster display ${name}\` shows which are down; ${startThenReplan(ctx)}`;
}

/** "see its log, then `mup plan resume <cluster>` starts it again": a process that exited. */
export function resumeStartsIt(ctx: OperationContext): string {
  return `see its log, then \`mup plan resume ${ctx.plan.cluster_name}\` starts it again`;
}

/**
 * How a set whose majority is down gets its primary back while this plan's apply is unfinished:
 * `mup cluster start` of the members down (`down`, `host:port`; all that is down when not
 * given), which replaces this apply (a resume cannot continue it after that), then this plan's
 * command again (replanCommand), which finds in place what this apply did. A scale-out is
 * rolled back first (a start is refused over it), unless an addShard may have gone out (`sent`:
 * the running one's command was sent): scaleOutWayOut.
 */
export function startThenReplan(
  ctx: OperationContext,
  down: string[] = [],
  sent = false,
): string {
  const name = ctx.plan.cluster_name;
  const start = `mup cluster start ${name}${down.map((d) => ` -N ${shellQuote(d)}`).join("")}`;
  if (ctx.plan.operation === "scale-out") return scaleOutWayOut(ctx, start, down, sent);
  // No start runs over a TLS switch begun (refuseOverUnfinishedTlsSwitch): the members are
  // started by hand on the configuration files the switch wrote, and the resume goes on.
  // The marker's own safety check failing leaves a start allowed.
  if (tlsSwitchBegunAt(ctx.plan.operation, ctx.op.id)) {
    return `\`mup cluster start\` is refused until the TLS switch finishes: ${
      byHandStart(ctx, down)
    }`;
  }
  return `\`${start}\` starts ${down.length === 1 ? "it" : "them"}, ` +
    `and replaces this apply (it cannot be resumed after that): then \`mup ${
      replanCommand(ctx.plan)
    }\` plans this ${ctx.plan.operation} again`;
}

/**
 * startThenReplan of a scale-out: no start runs over an unfinished scale-out
 * (refuseOverUnfinishedScaling: the processes it started are not in the metadata), so it is
 * rolled back first (`start`: the start command); a rollback is refused once an addShard may
 * have reached the config servers (rollback_build.ts), and then only the processes started by
 * hand let a resume finish. Which of the two applies follows from the plan: the running
 * operation comes after an addShard of the plan, is itself one whose command was `sent`, or
 * comes before them all (or is the plan's only one, not sent).
 */
function scaleOutWayOut(
  ctx: OperationContext,
  start: string,
  down: string[],
  sent: boolean,
): string {
  const name = ctx.plan.cluster_name;
  const n = down.length;
  const them = n === 1 ? "it" : "them";
  const rollback = `\`mup state rollback ${name} --checkpoint start\` undoes this scale-out (a ` +
    `start is refused until then), \`${start}\` starts ${them}, then \`mup ${
      replanCommand(ctx.plan)
    }\` plans this scale-out again`;
  const byHand = byHandStart(ctx, down);
  const ops = allOperations(ctx.plan);
  const shards = ops.filter((o) => o.type === "add_shard").map((o) => o.id);
  const before = new Set<string>();
  for (const stack = [...ctx.op.depends_on]; stack.length;) {
    const id = stack.pop()!;
    if (before.has(id)) continue;
    before.add(id);
    stack.push(...(ops.find((o) => o.id === id)?.depends_on ?? []));
  }
  if (sent || shards.some((id) => before.has(id))) {
    return `a shard may be registered already, so a rollback is refused: ${byHand}`;
  }
  if (shards.every((id) => id === ctx.op.id)) return rollback;
  return `${rollback}; once it has added a shard, a rollback is refused too: ${byHand}`;
}

/** "start h:p by hand with the configuration file mup wrote (`…`), then `mup plan resume c`". */
function byHandStart(ctx: OperationContext, down: string[]): string {
  return `start ${down.join(", ")} by hand with the configuration file${
    down.length === 1 ? "" : "s"
  } mup wrote (${
    down.map((d) => byHandCommand(ctx, d)).join("; ")
  }), then \`mup plan resume ${ctx.plan.cluster_name}\``;
}

/**
 * The command that starts `member` (`host:port`) of the plan's cluster as mup does, from its
 * configuration file: the binary and configuration directories of a start this plan makes on the
 * same host (deploy/bin/<release>/bin, deploy/conf/<process>/), else a template of them.
 */
function byHandCommand(ctx: OperationContext, member: string): string {
  const [host, port] = splitHostPort(member);
  const bin =
    ctx.plan.topology.mongos_servers?.some((m) =>
        machinePort(hostPort(m.host, m.port)) === machinePort(member)
      )
      ? "mongos"
      : "mongod";
  const like = allOperations(ctx.plan).find((o) =>
    o.type === "start_process" && o.target.host && hostKey(o.target.host) === hostKey(host) &&
    o.target.params.binary &&
    o.target.params.config
  );
  if (!like) return `\`${bin} -f conf/${bin}-${port}/${bin}.conf\` under the deploy directory`;
  // A host's paths are POSIX ones, whatever this machine's are.
  const binDir = path.posix.dirname(like.target.params.binary);
  const confRoot = path.posix.dirname(path.posix.dirname(like.target.params.config));
  const cmd = `${shellQuote(`${binDir}/${bin}`)} -f ${
    shellQuote(`${confRoot}/${bin}-${port}/${bin}.conf`)
  }`;
  return `\`${cmd}\`${isLocal(host) ? "" : ` on ${host}`}`;
}

/**
 * What brings back the members `down` (`host:port`) that the running operation needs: when this
 * plan started each of them before it (a start_process among the operation's dependencies or in
 * an earlier phase, done), `mup plan resume`, which runs those starts again (their effect is
 * lost); otherwise a start that replaces the apply, then the plan made again (startThenReplan),
 * given as `replan` too (OperationError's). `sent`: the running operation's command went out
 * before the members went down (scaleOutWayOut).
 */
export function membersDownAdvice(
  ctx: OperationContext,
  down: string[],
  sent = false,
): { advice: string; replan?: string } {
  const byId = new Map(allOperations(ctx.plan).map((o) => [o.id, o]));
  const started = new Set<string>();
  const seen = new Set<string>();
  // Its dependencies, and every operation of the phases before its own (done before it began).
  const phase = ctx.plan.phases.findIndex((ph) => ph.operations.some((o) => o.id === ctx.op.id));
  const stack = [
    ...(ctx.op.depends_on ?? []),
    ...ctx.plan.phases.slice(0, Math.max(0, phase)).flatMap((ph) => ph.operations.map((o) => o.id)),
  ];
  while (stack.length) {
    const o = byId.get(stack.pop()!);
    if (!o || seen.has(o.id)) continue;
    seen.add(o.id);
    if (o.type === "start_process" && o.target.host && o.target.port) {
      started.add(machinePort(hostPort(o.target.host, o.target.port)));
    }
    stack.push(...o.depends_on);
  }
  if (down.length && down.every((d) => started.has(machinePort(d)))) {
    return {
      advice: `\`mup plan resume ${ctx.plan.cluster_name}\` starts ${
        down.length === 1 ? "it" : "them"
      } again (this plan's start${down.length === 1 ? "" : "s"} of ${
        down.length === 1 ? "it runs" : "them run"
      } again) and goes on`,
    };
  }
  // A deploy that starts them, but only after this operation: no deploy mup makes is ordered so
  // (an edited, resealed one: tester89), and `cluster start` refuses a first deploy. Planned
  // again. (A rolling restart does start members later on purpose.)
  const later = ctx.plan.operation !== "deploy" ? new Set<string>() : new Set(
    allOperations(ctx.plan).filter((o) =>
      o.type === "start_process" && o.target.host && o.target.port
    ).map((o) => machinePort(hostPort(o.target.host!, o.target.port!))),
  );
  if (down.length && down.every((d) => later.has(machinePort(d)))) {
    const replan = `this plan starts ${
      down.length === 1 ? "it" : "them"
    } only after ${ctx.op.id}, an order mup never plans: plan again (\`mup ${
      replanCommand(ctx.plan)
    }\`)`;
    return { advice: replan, replan };
  }
  const replan = startThenReplan(ctx, down, sent);
  return { advice: replan, replan };
}
