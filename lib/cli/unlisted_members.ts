/**
 * Replica set members the metadata does not list: added outside mup (rs.add by hand), or by a
 * scale-out that did not finish. `cluster display` names them, since they count in their set's
 * majority whatever the metadata says; and the recorded members a set's config no longer has
 * (a scale-in cut off after their removal, or rs.remove by hand).
 */
import type { Document } from "mongodb";
import type { MongoAccess } from "../mongo/client.ts";
import type { ProcessStatus } from "../probe/live.ts";
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

/**
 * `cluster display`'s lines for what its rows do not show: members outside the metadata,
 * recorded members their set dropped (with what finishes their removal: the resume of the
 * unfinished scale-in that dropped them, as `unfinished` names it, else a scale-in of them),
 * and the data a scale-in kept.
 */
export function membershipNotes(
  cluster: string,
  unlisted: UnlistedMember[],
  dropped: DroppedMember[],
  kept: NonNullable<ClusterMeta["retained_data"]>,
  unfinished: { operation: string; state_id: string; replan?: string } | undefined,
  /** The repair that adds members removed by hand back (repairCommand). */
  repair: string,
): string[] {
  // An unfinished scale-in refuses another one over it (it would act on a cluster the
  // metadata does not describe): its own resume finishes the removal.
  const finish = unfinished?.operation === "scale-in"
    ? unfinished.replan
      ? `the unfinished scale-in (apply ${unfinished.state_id}) removed them; what its failure ` +
        `named finishes it: ${unfinished.replan}`
      : `the unfinished scale-in (apply ${unfinished.state_id}) removed them: \`mup plan ` +
        `resume ${cluster}\` finishes their removal`
    : `\`mup cluster scale-in ${cluster} ${
      dropped.map((m) => `-N ${m.host}`).join(" ")
    }\` finishes their removal; if they were removed by hand, \`${repair}\` (a repair) adds them ` +
      "back instead";
  return [
    ...(unlisted.length
      ? [
        "Members the metadata does not list (added outside mup, or by an unfinished " +
        `scale-out): ${
          unlisted.map((m) =>
            `${m.host} in ${m.replica_set} (${m.reachable ? m.state : "not reachable"})`
          ).join(", ")
        }`,
      ]
      : []),
    ...(dropped.length
      ? [
        "Recorded members their set's config no longer lists (removed by an unfinished " +
        `scale-in, or by hand): ${
          dropped.map((m) => `${m.host} (${m.replica_set})`).join(", ")
        }; ${finish}`,
      ]
      : []),
    ...(kept.length
      ? [
        `Data kept by scale-in (--retain-data), no member runs on it: ${
          kept.map((r) => `${r.host}:${r.path} (${r.id})`).join(", ")
        }`,
      ]
      : []),
  ];
}
