/**
 * The safety check `set_lists_members`: the replica set's primary holds a config that lists
 * every member in `listed`. What a rollback of a scale-in cut off in its remove_members asks
 * before it calls the scale-in cancelled (tester103 #2): that the replSetReconfig it may have
 * sent did not take a member out (a member taken out comes back only by a scale-out).
 */
import type { MongoAccess } from "../mongo/client.ts";
import { primaryConfig } from "../ops/reconfig_retry.ts";
import { machinePort } from "../topology/hosts.ts";
import type { SafetyCheck } from "../plan/schema.ts";
import { sleep } from "../util/timer.ts";

/** How long a set without a primary (an election after a step-down) is asked again, in ms. */
const PRIMARY_GRACE_MS = 30_000;

/**
 * `params.members` (`host:port` list: whom to ask), `params.listed` (those the config must
 * list, compared by machine and port). Fails, lastingly, naming the members the config no
 * longer lists; fails when no primary answers within PRIMARY_GRACE_MS.
 */
export async function setListsMembers(
  c: SafetyCheck,
  access: MongoAccess,
  interrupt?: AbortSignal,
): Promise<{ ok: boolean; status: string; lasting?: boolean }> {
  const members = c.params.members as string[];
  const listed = c.params.listed as string[];
  const end = Date.now() + PRIMARY_GRACE_MS;
  let found = await primaryConfig(access, members);
  while (!found && Date.now() < end && !interrupt?.aborted) {
    await sleep(500);
    found = await primaryConfig(access, members);
  }
  if (!found) {
    return { ok: false, status: `no primary of ${c.target} answered replSetGetConfig` };
  }
  const hosts = new Set(
    (found.config.members as { host: string }[]).map((m) => machinePort(String(m.host))),
  );
  const gone = listed.filter((h) => !hosts.has(machinePort(h)));
  const version = `config version ${found.config.version} on ${found.at}`;
  return gone.length
    ? {
      ok: false,
      lasting: true,
      status: `${c.target} no longer lists ${gone.join(", ")} (${version}): the scale-in took ` +
        "them out, which a rollback cannot undo",
    }
    : { ok: true, status: `${c.target} still lists ${listed.join(", ")} (${version})` };
}
