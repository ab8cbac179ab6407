/**
 * A replica-set member is healthy only when its set agrees: a member may answer, and call itself
 * SECONDARY, while the other members cannot reach it (a keyfile with another key: its
 * `__system` logins to them fail, and theirs to it; a network rule between members only). Its
 * own answer cannot tell; the set's primary can (replSetGetStatus: `health: 0`,
 * `lastHeartbeatMessage`), and so can the member's own view of the primary.
 */
import type { Document } from "mongodb";
import type { MongoAccess } from "../mongo/client.ts";
import type { MetaProcess, ProcessStatus } from "./live.ts";

/** One process's answer: its status and, for a set member, its replSetGetStatus. */
export interface Answer {
  status: ProcessStatus;
  rs?: Document;
}

/** The member of a replSetGetStatus answer that is the answering server itself. */
function selfOf(rs: Document): Document | undefined {
  return (rs.members as Document[] | undefined)?.find((m) => m.self);
}

/** A primary as it sees its set: its name and its replSetGetStatus. */
interface PrimaryView {
  name: string;
  rs: Document;
}

/**
 * The set's primary, as it reports itself: among `answers`, else asked of `others` (the set's
 * recorded members not asked yet). Of two that claim it (one cut off and not yet stepped
 * down), the one of the newer term.
 */
async function primaryOf(
  access: MongoAccess,
  answers: Answer[],
  others: MetaProcess[],
  timeoutMs: number,
): Promise<PrimaryView | undefined> {
  let views = answers.map((a) => a.rs).filter((rs): rs is Document => !!rs);
  if (!views.some((rs) => selfOf(rs)?.state === 1)) {
    views = (await Promise.all(others.map((p) =>
      access.adminCommand(p.host, p.port, { replSetGetStatus: 1 }, timeoutMs).catch(() =>
        undefined
      )
    ))).filter((rs): rs is Document =>
      !!rs
    );
  }
  const primaries = views.filter((rs) => selfOf(rs)?.state === 1)
    .sort((a, b) => Number(b.term ?? 0) - Number(a.term ?? 0));
  return primaries.length
    ? { name: String(selfOf(primaries[0])!.name), rs: primaries[0] }
    : undefined;
}

/**
 * `: <message>` when the heartbeat left one; an authentication failure between members says what
 * it means (they authenticate with the keyfile: the two run with different keys).
 */
function because(member: Document | undefined): string {
  const msg = String(member?.lastHeartbeatMessage ?? "").trim();
  if (!msg) return "";
  return /authentication failed/i.test(msg)
    ? `: ${msg} (the two run with different keyfiles)`
    : `: ${msg}`;
}

/**
 * The advice that ends a set's "cannot elect a primary" reason: `cluster display` words it
 * otherwise when members were stopped on purpose (display_output.ts stoppedOnPurpose).
 */
export const START_THEM = ": start them";

/**
 * Why the set does not count member `a` in (undefined when it does): the primary cannot reach
 * it, or does not have it in its configuration; or it cannot reach the primary, or sees none
 * while the set has one; or the set has no primary at all.
 */
function setVerdict(a: Answer, primary: PrimaryView | undefined): string | undefined {
  const me = a.rs ? selfOf(a.rs) : undefined;
  if (!me) return undefined;
  const mine = (a.rs!.members as Document[]).filter((m) => !m.self);
  if (!primary) {
    if (me.state === 1 || mine.some((m) => m.health === 1 && m.state === 1)) return undefined;
    // Fewer members up than the votes an election needs (counting every member up as a
    // voter): no election can succeed until more run (MongoDB: "Replica Set Elections").
    const up = 1 + mine.filter((m) => m.health === 1).length;
    const need = Number(a.rs!.majorityVoteCount ?? 0);
    if (need > up) {
      const down = mine.filter((m) => m.health !== 1).map((m) => String(m.name));
      return `the set has no primary and cannot elect one: ${up} of its ` +
        `${mine.length + 1} members run and reach each other, and an election needs ` +
        `${need} votes; ${down.join(", ")} ${down.length === 1 ? "is" : "are"} down or ` +
        `unreachable${START_THEM}`;
    }
    return "the set has no primary (none of its members that answer is one; an election may be under way)";
  }
  if (primary.name === me.name) return undefined;
  const seen = (primary.rs.members as Document[]).find((m) => m.name === me.name);
  if (!seen) return `not in the configuration of the set's primary ${primary.name}`;
  if (seen.health !== 1) {
    return `not reachable from the set's primary ${primary.name}${because(seen)}`;
  }
  const toPrimary = mine.find((m) => m.name === primary.name);
  if (toPrimary && (toPrimary.health !== 1 || toPrimary.state !== 1)) {
    return `does not reach the set's primary ${primary.name}${because(toPrimary)}`;
  }
  return undefined;
}

/**
 * Marks the members among `answers` that their set does not count in as not healthy, with the
 * reason; `cluster` is every recorded process, of which a set's other members are asked for its
 * primary when none of `answers` is it (`cluster display -N` of one secondary).
 */
export async function judgeBySet(
  access: MongoAccess,
  answers: Answer[],
  cluster: MetaProcess[],
  timeoutMs: number,
): Promise<void> {
  const sets = new Map<string, Answer[]>();
  for (const a of answers) {
    const set = a.status.replica_set;
    if (set && a.rs) sets.set(set, [...(sets.get(set) ?? []), a]);
  }
  await Promise.all([...sets].map(async ([set, members]) => {
    const asked = new Set(answers.map((a) => a.status.process_id));
    const others = cluster.filter((p) => p.replica_set === set && !asked.has(p.id));
    const primary = await primaryOf(access, members, others, timeoutMs);
    for (const a of members) {
      if (!a.status.healthy) continue;
      const reason = setVerdict(a, primary);
      if (reason) Object.assign(a.status, { healthy: false, reason });
    }
  }));
}
