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
