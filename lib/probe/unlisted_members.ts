/**
 * Replica set members the metadata does not list: added outside mup (rs.add by hand), or by a
 * scale-out that did not finish; and the recorded members a set's config no longer has (a
 * scale-in cut off after their removal, or rs.remove by hand). `cluster display` names them
 * (lib/cli/unlisted_members.ts), and a repair refuses to run over an unlisted one.
 */
import type { Document } from "mongodb";
import type { MongoAccess } from "../mongo/client.ts";
import type { ProcessStatus } from "./live.ts";
import type { ClusterMeta } from "../state/meta.ts";
import { hostPort, machinePort } from "../topology/hosts.ts";

/** A recorded member its set's live config no longer lists (removed, by mup or by hand). */
export interface DroppedMember {
  replica_set: string;
  /** `host:port` as the metadata records it. */
  host: string;
}

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
 * For each recorded replica set, the members its live config has that `meta` does not record
 * (unlisted), and the recorded ones it does not have (dropped), from replSetGetStatus asked of
 * one answering member (the primary first). A set no member of
 * which answers says nothing. MongoDB manual, replSetGetStatus.
 */
export async function unlistedMembers(
  access: MongoAccess,
  meta: ClusterMeta,
  rows: ProcessStatus[],
  timeoutMs: number,
): Promise<{ unlisted: UnlistedMember[]; dropped: DroppedMember[] }> {
  const sets = [...new Set(meta.processes.flatMap((p) => p.replica_set ?? []))].sort();
  const found = await Promise.all(sets.map(async (set) => {
    const members = meta.processes.filter((p) => p.replica_set === set);
    const recorded = new Set(members.map((p) => machinePort(hostPort(p.host, p.port))));
    const ask = rows.filter((r) => r.replica_set === set && r.healthy)
      .sort((a, b) => Number(b.state === "PRIMARY") - Number(a.state === "PRIMARY"));
    for (const r of ask) {
      const st = await access.adminCommand(r.host, r.port, { replSetGetStatus: 1 }, timeoutMs)
        .catch(() => undefined);
      if (!st) continue;
      const listed = (st.members ?? []) as Document[];
      const inConfig = new Set(listed.map((m) => machinePort(String(m.name))));
      return {
        unlisted: listed.filter((m) => !recorded.has(machinePort(String(m.name))))
          .map((m): UnlistedMember => ({
            replica_set: set,
            host: String(m.name),
            state: String(m.stateStr ?? "UNKNOWN"),
            reachable: m.self === true || m.health === 1,
          })),
        dropped: members.filter((p) => !inConfig.has(machinePort(hostPort(p.host, p.port))))
          .map((p): DroppedMember => ({ replica_set: set, host: hostPort(p.host, p.port) })),
      };
    }
    return { unlisted: [], dropped: [] };
  }));
  return {
    unlisted: found.flatMap((f) => f.unlisted),
    dropped: found.flatMap((f) => f.dropped),
  };
}
