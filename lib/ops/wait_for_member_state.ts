import { hostPort, machinePort } from "../topology/hosts.ts";
import type { Document } from "mongodb";
import { poll, splitHostPort } from "../mongo/client.ts";
import { mongo } from "./cluster_client.ts";
import type { OperationContext } from "./operation.ts";
import { type Operation, OperationError, param } from "./operation.ts";
import { HEALTHY_STATES, primaryName, setStatus } from "./replset_status.ts";
import { membersDownAdvice, planTimeoutMs, resumeStartsIt, waitedFor } from "./timeout.ts";
import { silentMember } from "./silent_members.ts";
import { sustained } from "../util/timer.ts";
import { processExited } from "./process.ts";

/** How long a set may lack a majority of its votes before the wait gives up on it, in ms. */
const NO_MAJORITY_MS = 10_000;
/** How long the primary may refuse the member (its keyfile) before the wait gives up, in ms. */
const REJECTED_MS = 10_000;

/** A wait's view of a set without a primary: the voting members the waited-for one cannot reach. */
interface NoPrimary {
  /** `host:port` of the voting members it cannot reach. */
  down: string[];
  /** How many voting members the set has. */
  voting: number;
  /** Whether those hold half the votes or more: no election can succeed until some return. */
  noMajority: boolean;
}

/**
 * Where the member stands: its state as it reports it and, as the set's primary sees it
 * (replSetGetStatus on the primary), whether it is reachable (`health`) and how many seconds its
 * last applied write is behind the primary's. A member that says SECONDARY but which the primary
 * cannot reach (a partition, a firewall) is not back in the set: only the primary's view says so.
 */
async function standing(
  ctx: OperationContext,
): Promise<{
  state: string;
  lag?: number;
  seen?: boolean;
  view?: string;
  none?: NoPrimary;
  /** The primary's heartbeats to it fail authentication: it runs with another keyfile. */
  rejected?: boolean;
}> {
  const host = ctx.op.target.host!;
  const port = ctx.op.target.port!;
  const me = hostPort(host, port);
  const own = await mongo(ctx).adminCommand(host, port, { replSetGetStatus: 1 });
  const self = (own.members as Document[]).find((m) => m.self);
  const state = String(self?.stateStr ?? "UNKNOWN");
  if (self?.state === 1) return { state, lag: 0, seen: true };
  // The primary it knows of (its own heartbeats'), else the one another member names.
  const name = primaryName(own) ??
    primaryName(await setStatus(mongo(ctx), JSON.parse(param(ctx, "members"))));
  if (!name) {
    const none = await noPrimary(ctx, own);
    return {
      state,
      none,
      view: `the set has no primary${
        none.down.length ? `; it cannot reach ${none.down.join(", ")}` : ""
      }`,
    };
  }
  const [ph, pp] = splitHostPort(name);
  const st = await mongo(ctx).adminCommand(ph, pp, { replSetGetStatus: 1 }).catch(() => undefined);
  const members = (st?.members ?? []) as Document[];
  const primary = members.find((m) => m.self && m.state === 1);
  const mine = members.find((m) => machinePort(String(m.name)) === machinePort(me));
  if (!primary || !mine) return { state };
  const seen = mine.health === 1;
  const view = seen
    ? `the primary ${name} sees it as ${mine.stateStr}`
    : `the primary ${name} cannot reach it${
      mine.lastHeartbeatMessage ? ` (${mine.lastHeartbeatMessage})` : ""
    }`;
  const lag = (new Date(primary.optimeDate).getTime() - new Date(mine.optimeDate).getTime()) /
    1000;
  const rejected = !seen && /authentication failed/i.test(String(mine.lastHeartbeatMessage ?? ""));
  return { state, lag: Math.max(0, lag), seen, view, ...(rejected ? { rejected } : {}) };
}

/**
 * The voting members (replSetGetConfig `votes`, default 1) that the member's own replSetGetStatus
 * shows unreachable (`health` 0). MongoDB elects a primary only while a majority of the set's
 * votes can reach each other ("Replica Set Elections").
 */
async function noPrimary(ctx: OperationContext, own: Document): Promise<NoPrimary> {
  const host = ctx.op.target.host!;
  const port = ctx.op.target.port!;
  const cfg = await mongo(ctx).adminCommand(host, port, { replSetGetConfig: 1 }).catch(() =>
    undefined
  );
  const voters = ((cfg?.config?.members ?? []) as Document[]).filter((m) => (m.votes ?? 1) > 0);
  const health = new Map(
    (own.members as Document[]).map((m) => [machinePort(String(m.name)), m.self ? 1 : m.health]),
  );
  const down = voters.map((m) => String(m.host)).filter((h) => health.get(machinePort(h)) === 0);
  return {
    down,
    voting: voters.length,
    noMajority: voters.length > 0 && down.length * 2 >= voters.length,
  };
}

/** Whether the member is in the wanted state (and caught up, when asked). */
async function reached(
  ctx: OperationContext,
  seen: (s: Awaited<ReturnType<typeof standing>>) => void = () => {},
): Promise<string | undefined> {
  const want = param(ctx, "state");
  const s = await standing(ctx);
  seen(s);
  // A member brought back as SECONDARY may take the primary over as soon as it has caught up
  // (MongoDB's priority takeover, when its priority is above the primary's; or an election
  // after the primary failed meanwhile): it is back in the set all the same.
  const ok = want === "HEALTHY"
    ? HEALTHY_STATES.has(s.state)
    : s.state === want || (want === "SECONDARY" && s.state === "PRIMARY");
  // Reachable by the primary, when there is one to ask: it is then a member again.
  if (!ok || s.seen === false) return undefined;
  if (ctx.op.target.params.caught_up === "true") {
    const max = Number(ctx.op.target.params.max_lag_s ?? 2);
    if (s.lag === undefined || s.lag > max) return undefined;
    return `${s.state}, ${s.lag}s behind the primary`;
  }
  return s.state;
}

/**
 * Waits until a replica-set member reports the wanted state (SECONDARY, or PRIMARY when it took
 * the primary over; or HEALTHY meaning PRIMARY, SECONDARY or ARBITER), the primary reaches it
 * and, with caught_up, it is at most max_lag_s behind the primary: MongoDB's rolling-maintenance
 * gate before touching the next member ("Perform Maintenance on Replica Set Members": rs.status()
 * shows it SECONDARY). Read-only.
 */
export const waitForMemberState: Operation = {
  async isDone(ctx) {
    return (await reached(ctx).catch(() => undefined)) !== undefined;
  },
  async run(ctx) {
    const timeout = planTimeoutMs(ctx, 120_000);
    const t0 = Date.now();
    // A set that lacks a majority of its votes elects no primary however long the wait: after
    // NO_MAJORITY_MS of that (an election's time, and a member's heartbeats, to show otherwise)
    // the wait ends, naming the members down, rather than at its timeout.
    const lasting = sustained(NO_MAJORITY_MS);
    let hopeless: NoPrimary | undefined;
    // A member its set's primary refuses (Authentication failed: another keyfile) stays refused
    // until restarted with the set's: after REJECTED_MS of that the wait ends (tester47: it
    // sat out its 2 minutes, then offered a resume that could not help).
    const refusing = sustained(REJECTED_MS);
    let refused: string | undefined;
    // Once a second, whether the member's process has exited: then it never answers.
    let look = t0 + 1000;
    let exited = false;
    const abort = new AbortController();
    const signal = ctx.signal ? AbortSignal.any([ctx.signal, abort.signal]) : abort.signal;
    const r = await poll(
      async () => {
        const got = await reached(ctx, (s) => {
          if (lasting(s.none?.noMajority ? "no majority" : undefined)) {
            (hopeless = s.none), abort.abort();
          }
          if (refusing(s.rejected ? "rejected" : undefined)) (refused = s.view), abort.abort();
        }).catch(() => undefined);
        if (got !== undefined || Date.now() < look) return got;
        look = Date.now() + 1000;
        if (await processExited(ctx)) (exited = true), abort.abort();
        return undefined;
      },
      timeout,
      100,
      signal,
    );
    const me = hostPort(ctx.op.target.host!, ctx.op.target.port!);
    if (!r && exited) {
      throw new OperationError(
        `${me} exited while the wait for it to become ${param(ctx, "state")} went on (no ` +
          `live PID in ${ctx.op.target.params.pid_file}): waiting longer would not help; ` +
          resumeStartsIt(ctx),
      );
    }
    if (!r && refused) {
      const name = ctx.plan.cluster_name;
      throw new OperationError(
        `${me} cannot become ${param(ctx, "state")}: ${refused}: it runs with another keyfile ` +
          "than the members of its set that stayed up, and waiting would not help. The keyfile " +
          `on its host is not the one they started with: \`mup cluster restart ${name} ` +
          "--force` restarts them all at once on the keyfile on their hosts (or put back on " +
          `${ctx.op.target.host} the keyfile they run with, and the same in mup's store, then ` +
          `\`mup plan resume ${name}\`)`,
      );
    }
    if (!r && hopeless) {
      const { advice, replan } = membersDownAdvice(ctx, hopeless.down);
      throw new OperationError(
        `${me} cannot become ${param(ctx, "state")}: its set has no primary and cannot elect ` +
          `one: ${hopeless.down.length} of its ${hopeless.voting} voting members are unreachable (${
            hopeless.down.join(", ")
          }); ${advice}`,
        replan ? { replan } : {},
      );
    }
    if (!r) {
      const last: { state: string; view?: string } = await standing(ctx).catch((e) => ({
        state: (e as Error).message,
      }));
      // One that runs and does not answer at all (stopped, hung) is named with its PID.
      const answers = await mongo(ctx).hello(ctx.op.target.host!, ctx.op.target.port!, 2000)
        .catch(() => undefined);
      const silent = answers
        ? undefined
        : await silentMember(ctx.executors.forHost(ctx.op.target.host!), me);
      throw new OperationError(
        `${me} did not become ${param(ctx, "state")}${
          ctx.op.target.params.caught_up === "true" ? " and caught up" : ""
        } ${waitedFor(t0, timeout, "within")} (last seen: ${last.state}${
          last.view ? `; ${last.view}` : ""
        })${
          silent
            ? `; ${silent.text}; once it answers, \`mup plan resume ${ctx.plan.cluster_name}\` ` +
              "waits for it again"
            : ""
        }`,
      );
    }
    return { output: `${r} after ${Date.now() - t0}ms` };
  },
};
