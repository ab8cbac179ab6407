import type { Document } from "mongodb";
import { type MongoAccess, sleep } from "../mongo/client.ts";
import { sustained } from "../util/timer.ts";
import { mongo } from "./cluster_client.ts";
import { type Operation, type OperationContext, OperationError, param } from "./operation.ts";
import { hostPort, machinePort } from "../topology/hosts.ts";
import { membersDownAdvice, planTimeoutMs, timeoutHint, waitedFor } from "./timeout.ts";
import { processExited } from "./process.ts";
import { foreignSetError, foreignSetName } from "./set_name.ts";

/** How long members may stay refused by their set before the check gives up on them, in ms. */
const REJECTED_MS = 10_000;

interface Proc {
  id: string;
  host: string;
  port: number;
  role: string;
  replica_set?: string;
  /** Plans made before it was recorded lack it: no evidence then that the process exited. */
  pid_file?: string;
}

/**
 * Members that report another replica set than the one they are recorded in (they run on
 * another set's data): this never heals by waiting, so the check fails at once on it.
 */
async function foreignSets(ctx: OperationContext, m: MongoAccess, procs: Proc[]) {
  const sets = new Map<string, string[]>();
  for (const p of procs) {
    if (!p.replica_set) continue;
    sets.set(p.replica_set, [...(sets.get(p.replica_set) ?? []), hostPort(p.host, p.port)]);
  }
  const found = await Promise.all(
    [...sets].map(async ([name, members]) => {
      const f = await foreignSetName(m, members, name);
      return f ? foreignSetError(ctx, f, name).message : undefined;
    }),
  );
  return found.filter((x): x is string => x !== undefined);
}

/**
 * The members of set `name` whose own replSetGetStatus (`views`, one per member that answered)
 * does not show `primary` as a healthy PRIMARY, as `cluster display` judges a member
 * (lib/probe/set_view.ts): just after an election a secondary still sees the new primary as
 * SECONDARY until the next heartbeat between them (heartbeatIntervalMillis, 2 s by default), and
 * the cluster is not healthy until every member knows its primary. Messages, one per member.
 */
export function unawareOfPrimary(name: string, views: Document[], primary: string): string[] {
  const out: string[] = [];
  for (const v of views) {
    const self = (v.members as Document[]).find((x) => x.self);
    if (!self || self.state === 1) continue;
    const seen = (v.members as Document[]).find((x) => x.name === primary);
    if (seen && (seen.health !== 1 || seen.state !== 1)) {
      out.push(`${name} member ${self.name} does not see ${primary} as primary yet`);
    }
  }
  return out;
}

/**
 * Problems with the cluster right now, all empty when healthy: `out` may heal by waiting (a
 * member starting, an election), `lasting` cannot (a recorded member its set no longer lists);
 * `rejected` names the members (`host:port`) whose set's heartbeats to them fail authentication,
 * also in `out`: they run with another keyfile than their set; `silent`, the processes that do
 * not answer.
 */
async function problems(
  m: MongoAccess,
  procs: Proc[],
  shards: string[],
  /** Judge only the listed processes' states in their sets (a scale-out's new members). */
  onlyListed = false,
  /** A mongos that does not answer is not a failure while another answers (a scale-in's). */
  routersOptional = false,
): Promise<
  { out: string[]; lasting: string[]; rejected: string[]; silent: Proc[]; spared: Proc[] }
> {
  const out: string[] = [];
  const lasting: string[] = [];
  const rejected: string[] = [];
  const answers = await Promise.all(procs.map((p) => m.hello(p.host, p.port)));
  const answering = procs.filter((p, i) => p.role === "mongos" && answers[i]);
  const spare = (p: Proc) => routersOptional && p.role === "mongos";
  procs.forEach((p, i) => answers[i] || spare(p) || out.push(`${p.id} does not answer`));
  const silent = procs.filter((p, i) => !answers[i] && !spare(p));
  const spared = procs.filter((p, i) => !answers[i] && spare(p));
  const sets = new Map<string, Proc[]>();
  for (const p of procs) {
    if (p.replica_set) sets.set(p.replica_set, [...(sets.get(p.replica_set) ?? []), p]);
  }
  await Promise.all([...sets].map(async ([name, members]) => {
    // The primary's view, when one answers: a member its set rejects sees the others as
    // unreachable and no primary, the others see it as unreachable.
    const views = (await Promise.all(members.map((x) =>
      m.adminCommand(x.host, x.port, { replSetGetStatus: 1 }).catch(() =>
        undefined
      )
    ))).filter((v): v is Document =>
      !!v
    );
    const isPrimary = (v: Document) =>
      (v.members as Document[]).some((x) => x.self && x.state === 1);
    const st = views.find(isPrimary) ?? views[0];
    if (!st) {
      out.push(`replica set ${name}: no member reports status`);
      return;
    }
    const primaries = (st.members as Document[]).filter((m) => m.state === 1);
    if (primaries.length !== 1) out.push(`replica set ${name} has ${primaries.length} primaries`);
    if (primaries.length === 1) {
      out.push(...unawareOfPrimary(name, views, String(primaries[0].name)));
    }
    const mine = new Set(members.map((x) => machinePort(hostPort(x.host, x.port))));
    for (const m of st.members as Document[]) {
      if (onlyListed && !mine.has(machinePort(String(m.name)))) continue;
      if (m.health !== 1) {
        const viewer = (st.members as Document[]).find((x) => x.self)?.name;
        const why = String(m.lastHeartbeatMessage ?? "").trim();
        out.push(
          `${name} member ${m.name} is not reachable from ${viewer}${why ? `: ${why}` : ""}`,
        );
        // An authentication failure does not heal by waiting: the member runs with another key.
        if (/authentication failed/i.test(why)) rejected.push(String(m.name));
      } else if (![1, 2, 7].includes(m.state)) {
        out.push(`${name} member ${m.name} is ${m.stateStr}`);
      }
    }
    // A recorded member the set's configuration no longer lists (removed by rs.reconfig) runs
    // and answers, but is no member: the cluster is not what is recorded, and waiting cannot
    // change that.
    const listed = new Set((st.members as Document[]).map((m) => machinePort(String(m.name))));
    for (const x of members) {
      if (!listed.has(machinePort(hostPort(x.host, x.port)))) {
        lasting.push(
          `${hostPort(x.host, x.port)} is not a member of replica set ${name} ` +
            "(its configuration omits it: it was removed by a reconfig outside mup)",
        );
      }
    }
  }));
  // With no mongos answering (all spared), the shards cannot be listed: what the apply changed
  // was judged through the sets' primaries.
  const router = answering[0] ??
    (routersOptional ? undefined : procs.find((p) => p.role === "mongos"));
  if (router && shards.length) {
    const r = await m.adminCommand(router.host, router.port, { listShards: 1 }).catch(() =>
      undefined
    );
    const have = new Set(((r?.shards ?? []) as Document[]).map((s) => s._id));
    for (const s of shards) if (!have.has(s)) out.push(`shard ${s} is not listed by mongos`);
  }
  return { out, lasting, rejected, silent, spared };
}

/**
 * The processes (`host:port`) that answer and refuse the cluster's stored admin credentials
 * (AuthenticationFailed, code 18, once the localhost exception no longer lets serverStatus
 * through), as `cluster display` judges them (lib/probe/live.ts); arbiters aside, which hold
 * no users (MongoDB docs: an arbiter authenticates no one). Empty without access control.
 */
async function credentialsRefused(m: MongoAccess, procs: Proc[]): Promise<string[]> {
  if (!m.authenticates) return [];
  const out = await Promise.all(procs.map(async (p) => {
    const hello = await m.hello(p.host, p.port);
    if (!hello || hello.arbiterOnly) return undefined;
    const code = await m.adminCommand(p.host, p.port, { serverStatus: 1 }).then(
      () => undefined,
      (e) => (e as { code?: number }).code,
    );
    return code === 18 ? hostPort(p.host, p.port) : undefined;
  }));
  return out.filter((x): x is string => x !== undefined);
}

/**
 * Every process answers, each set has exactly one primary and healthy members, mongos lists
 * every shard; with access control, after a deploy, every process but arbiters accepts the
 * stored admin credentials. With `only_listed: "true"` (a scale-out's check of what it added)
 * the members of a set that are not among `processes` are not judged: a recorded member down
 * meanwhile is the cluster's state, not the scale-out's failure (`cluster display` shows it). With
 * `routers_optional: "true"` (a scale-in's) a mongos that does not answer is no failure (the
 * shards are listed through one that answers, if any): it is named in a notice, with the start
 * that brings it back (its configuration, written again by the scale-in, matches the metadata
 * it records; no start of it is possible before).
 */
export const verifyHealth: Operation = {
  isDone() {
    return Promise.resolve(false); // read-only and cheap: always look again
  },
  async run(ctx) {
    const procs = JSON.parse(param(ctx, "processes")) as Proc[];
    const shards = JSON.parse(param(ctx, "shards")) as string[];
    const timeout = planTimeoutMs(ctx, 30_000);
    const end = Date.now() + timeout;
    let last: string[] = [];
    let spared: Proc[] = [];
    const lasting = sustained(REJECTED_MS);
    // New connections each round: health is what a client connecting now meets.
    const access = mongo(ctx).fresh();
    while (true) {
      const foreign = await foreignSets(ctx, access, procs);
      if (foreign.length) {
        throw new OperationError(`cluster is not what the plan deploys: ${foreign.join("; ")}`);
      }
      const found = await problems(
        access,
        procs,
        shards,
        ctx.op.target.params.only_listed === "true",
        ctx.op.target.params.routers_optional === "true",
      );
      if (found.lasting.length) {
        throw new OperationError(`cluster is not what is recorded: ${found.lasting.join("; ")}`);
      }
      last = found.out;
      spared = found.spared;
      if (last.length === 0) break;
      // A process that exited never answers: no wait mends that.
      const exited = (await Promise.all(
        found.silent.map(async (p) =>
          await processExited(ctx, p.host, p.pid_file) ? hostPort(p.host, p.port) : undefined
        ),
      )).filter((x): x is string => x !== undefined);
      if (exited.length) {
        const { advice, replan } = membersDownAdvice(ctx, exited);
        throw new OperationError(
          `cluster is not healthy: ${last.join("; ")}; ${exited.join(", ")} exited (no live ` +
            `PID in ${
              exited.length === 1 ? "its pid file" : "their pid files"
            }): waiting longer would not help; see ${
              exited.length === 1 ? "its log" : "their logs"
            }, then ${advice}`,
          replan ? { replan } : {},
        );
      }
      // Rejected members stay rejected until restarted with the set's keyfile: past an
      // election's time of seeing them so, the check ends naming the restart that mends them.
      if (lasting(found.rejected.length ? found.rejected.join(",") : undefined)) {
        throw new OperationError(
          `cluster is not healthy: ${last.join("; ")}; the set refuses ${
            found.rejected.join(", ")
          } (its keyfile is not the set's: changed on disk, or it was started by hand), ` +
            "which waiting does not mend; `mup cluster restart " + ctx.plan.cluster_name +
            found.rejected.map((r) => ` -N ${r}`).join("") +
            `\` restarts ${
              found.rejected.length > 1 ? "them" : "it"
            } with the cluster's keyfile and configuration (or, when it is the others that ` +
            "run with another key, a keyfile changed by hand and they restarted since, `mup " +
            `cluster restart ${ctx.plan.cluster_name} --force\` restarts every member with it)`,
        );
      }
      if (Date.now() > end || ctx.signal.aborted) {
        throw new OperationError(
          `cluster is not healthy ${waitedFor(end - timeout, timeout)}: ${last.join("; ")}; ${
            timeoutHint(ctx, timeout)
          }`,
        );
      }
      await sleep(300, ctx.signal);
    }
    // A deploy makes the admin user: its health includes the stored credentials working. Other
    // plans find them as the cluster has them (display names a user dropped outside mup, and
    // the stop and start it suggests before the repair must still complete).
    const refused = ctx.plan.operation === "deploy" ? await credentialsRefused(access, procs) : [];
    if (refused.length) {
      throw new OperationError(
        `cluster is not healthy: the admin credentials mup stores do not authenticate on ${
          refused.join(", ")
        } (the plan did not create the admin user, or it was changed or dropped outside mup): ` +
          "mup could not act on the cluster with them, as `mup cluster display` says too",
      );
    }
    const down = spared.map((p) => hostPort(p.host, p.port));
    // A scale-out's check judges what it added: said so, and the shards by name (tester91: "1
    // shards listed" read as the cluster's count).
    const added = ctx.op.target.params.only_listed === "true" ? " added" : "";
    const n = procs.length - down.length;
    return {
      output: `${n}${added} ${n === 1 ? "process" : "processes"} healthy${
        shards.length
          ? `, ${shards.length === 1 ? "shard" : "shards"} ${shards.join(", ")} listed`
          : ""
      }`,
      ...(down.length
        ? {
          notice: `mongos ${down.join(", ")} ${down.length === 1 ? "does" : "do"} not answer ` +
            `(${
              down.length < procs.filter((p) => p.role === "mongos").length
                ? "the others route"
                : "no mongos routes: applications cannot reach the cluster until one runs"
            }): \`mup cluster start ${ctx.plan.cluster_name}${
              down.map((d) => ` -N ${d}`).join("")
            }\` starts ${down.length === 1 ? "it" : "them"} once this apply is done`,
        }
        : {}),
    };
  },
};
