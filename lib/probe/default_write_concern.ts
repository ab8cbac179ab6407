/**
 * Whether a replica set has a cluster-wide default write concern (CWWC): getDefaultRWConcern
 * answers `defaultWriteConcernSource: "global"` once setDefaultRWConcern set one (MongoDB 5.0+;
 * manual: getDefaultRWConcern). Read-only.
 */
import type { MongoAccess } from "../mongo/client.ts";
import type { ProcessSpec } from "../plan/processes.ts";

/**
 * Asks the set's data-bearing `members` in turn (an arbiter holds no users to log in with) until
 * one answers; undefined when none does (the apply then meets the server's own refusal).
 */
export async function clusterWideWriteConcernSet(
  access: MongoAccess,
  members: ProcessSpec[],
): Promise<boolean | undefined> {
  for (const m of members.filter((m) => !m.arbiterOnly)) {
    const r = await access.adminCommand(m.host, m.port, { getDefaultRWConcern: 1 })
      .catch(() => undefined);
    if (r) return r.defaultWriteConcernSource === "global";
  }
  return undefined;
}
