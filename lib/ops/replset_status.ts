import type { Document } from "mongodb";
import { ANSWER_TIMEOUT_MS, type MongoAccess, splitHostPort } from "../mongo/client.ts";

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
