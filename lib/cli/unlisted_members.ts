/**
 * Replica set members the metadata does not list: added outside mup (rs.add by hand), or by a
 * scale-out that did not finish. `cluster display` names them, since they count in their set's
 * majority whatever the metadata says.
 */
import type { Document } from "mongodb";
import type { MongoAccess } from "../mongo/client.ts";
import type { ProcessStatus } from "../probe/live.ts";
import type { ClusterMeta } from "../state/meta.ts";
import { hostPort, machinePort } from "../topology/hosts.ts";

/** One member a set's config has and the metadata does not. */
export interface UnlistedMember {
  replica_set: string;
  /** `host:port` as the set's config names it. */
  host: string;
  /** Its state as the asked member sees it (replSetGetStatus stateStr), e.g. SECONDARY. */
  state: string;
  /** Whether the asked member reaches it (replSetGetStatus health 1, or itself). */
  reachable: boolean;
}

/**
 * For each recorded replica set, the members its live config has that `meta` does not record,
 * from replSetGetStatus asked of one answering member (the primary first). A set no member of
 * which answers says nothing. MongoDB manual, replSetGetStatus.
 */
export async function unlistedMembers(
  access: MongoAccess,
  meta: ClusterMeta,
  rows: ProcessStatus[],
  timeoutMs: number,
): Promise<UnlistedMember[]> {
  const sets = [...new Set(meta.processes.flatMap((p) => p.replica_set ?? []))].sort();
  const found = await Promise.all(sets.map(async (set) => {
    const recorded = new Set(
      meta.processes.filter((p) => p.replica_set === set).map((p) =>
        machinePort(hostPort(p.host, p.port))
      ),
    );
    const ask = rows.filter((r) => r.replica_set === set && r.healthy)
      .sort((a, b) => Number(b.state === "PRIMARY") - Number(a.state === "PRIMARY"));
    for (const r of ask) {
      const st = await access.adminCommand(r.host, r.port, { replSetGetStatus: 1 }, timeoutMs)
        .catch(() => undefined);
      if (!st) continue;
      return ((st.members ?? []) as Document[])
        .filter((m) => !recorded.has(machinePort(String(m.name))))
        .map((m): UnlistedMember => ({
          replica_set: set,
          host: String(m.name),
          state: String(m.stateStr ?? "UNKNOWN"),
          reachable: m.self === true || m.health === 1,
        }));
    }
    return [];
  }));
  return found.flat();
}
