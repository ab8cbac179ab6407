import type { Document } from "mongodb";
import { ANSWER_TIMEOUT_MS, type MongoAccess, splitHostPort } from "../mongo/client.ts";
import { machinePort } from "../topology/hosts.ts";

/** replSetGetStatus from the first of `members` (`host:port`) that answers, or undefined. */
export async function setStatus(
  access: MongoAccess,
  members: string[],
  timeoutMs = ANSWER_TIMEOUT_MS,
): Promise<Document | undefined> {
  for (const m of members) {
    const [h, p] = splitHostPort(m);
    const st = await access.adminCommand(h, p, { replSetGetStatus: 1 }, timeoutMs).catch(() =>
      undefined
    );
    if (st) return st;
  }
  return undefined;
}

/**
 * The set's primary (`host:port` as it names itself): the member that says, in its own `hello`,
 * that it is the writable primary of `set` (every one of `members` asked at once). Each member's
 * own word is taken, not one member's view of the others (replSetGetStatus), which lags by a
 * heartbeat and, on a loaded host or behind a partition, by every heartbeat it misses. Of two
 * that say so (an old primary not yet aware it was replaced), the one of the newer election
 * (electionId) is the primary. Undefined when none says so. MongoDB: hello
 * (`isWritablePrimary`, `me`, `setName`, `electionId`).
 */
export async function selfPrimary(
  access: MongoAccess,
  members: string[],
  set?: string,
): Promise<string | undefined> {
  const answers = await Promise.all(members.map(async (hp) => {
    const r = await access.hello(...splitHostPort(hp));
    // A primary of another set (members on data of another set) is not this set's primary.
    if (!r?.isWritablePrimary || (set !== undefined && r.setName !== set)) return undefined;
    return { name: typeof r.me === "string" ? r.me : hp, election: String(r.electionId ?? "") };
  }));
  return answers.filter((a) => a !== undefined)
    .sort((a, b) => b.election.localeCompare(a.election))[0]?.name;
}

/** Whether two `host:port` names are one member (`localhost` and `127.0.0.1` alike). */
export function sameMember(a: string, b: string | undefined): boolean {
  return b !== undefined && machinePort(a) === machinePort(b);
}

/** The `host:port` of the set's primary in a replSetGetStatus reply. */
export function primaryName(st: Document | undefined): string | undefined {
  return (st?.members as Document[] | undefined)?.find((m) => m.state === 1)?.name;
}

/** States in which a member serves as it should. */
export const HEALTHY_STATES = new Set(["PRIMARY", "SECONDARY", "ARBITER"]);

/**
 * The set's voting members (replSetGetConfig `votes`, default 1, asked of a member that
 * answers; `members` themselves when none does) that do not answer `hello` from here: `down`
 * (`host:port`) of `voting`. When they hold half the votes or more, no election can succeed
 * until some return (MongoDB "Replica Set Elections": a majority of the votes elects).
 */
export async function votersDown(
  access: MongoAccess,
  members: string[],
): Promise<{ down: string[]; voting: number }> {
  const answers = await Promise.all(
    members.map((m) => access.hello(...splitHostPort(m)).catch(() => undefined)),
  );
  const up = members.filter((_, i) => answers[i] !== undefined);
  const cfg = up.length
    ? await access.adminCommand(...splitHostPort(up[0]), { replSetGetConfig: 1 }).catch(() =>
      undefined
    )
    : undefined;
  const voters = cfg
    ? (cfg.config.members as Document[]).filter((m) => (m.votes ?? 1) > 0).map((m) =>
      String(m.host)
    )
    : members;
  const answering = new Set(up.map(machinePort));
  return { down: voters.filter((h) => !answering.has(machinePort(h))), voting: voters.length };
}
