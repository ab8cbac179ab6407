/**
 * The replica sets of a first deploy tried again that the earlier attempt already initiated, as
 * planned: their initiation changes nothing, and the review should say so rather than promise a
 * replSetInitiate that will not happen (the operation still checks at apply, and refuses a set
 * initiated with other members).
 */
import type { MongoAccess } from "../mongo/client.ts";
import type { ReplicaSetSpec } from "../plan/processes.ts";
import { hostKey, hostPort, machinePort } from "../topology/hosts.ts";

/**
 * Names of the sets in `sets` whose running members (`running`: `hostKey:port`, pre-flight's
 * ownRunning) answer hello with the set's name and exactly its planned members. hello needs no
 * credentials, so it answers before the admin user exists (MongoDB manual, "hello": `setName`,
 * and the members in `hosts`, `passives` and `arbiters`). hello leaves hidden members out, so a
 * set with one is not judged here (the operation finds out at apply).
 *
 * @throws nothing: a member that does not answer is no evidence.
 */
export async function initiatedSets(
  sets: ReplicaSetSpec[],
  running: Set<string>,
  access: Pick<MongoAccess, "hello">,
): Promise<string[]> {
  const found = await Promise.all(sets.map(async (s) => {
    if (s.members.some((m) => m.hidden)) return [];
    const up = s.members.filter((m) => running.has(`${hostKey(m.host)}:${m.port}`));
    const planned = new Set(s.members.map((m) => machinePort(hostPort(m.host, m.port))));
    for (const m of up) {
      const h = await access.hello(m.host, m.port, 5_000);
      if (h?.setName !== s.name) continue;
      const listed: string[] = [...(h.hosts ?? []), ...(h.passives ?? []), ...(h.arbiters ?? [])];
      const have = new Set(listed.map(machinePort));
      if (have.size === planned.size && [...planned].every((k) => have.has(k))) return [s.name];
    }
    return [];
  }));
  return found.flat();
}
