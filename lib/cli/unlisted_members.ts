/**
 * `cluster display`'s notes on replica set membership the metadata does not describe (found by
 * lib/probe/unlisted_members.ts): members added outside mup, recorded members their set
 * dropped, and the data a scale-in kept.
 */
import type { ClusterMeta } from "../state/meta.ts";
import type { DroppedMember, UnlistedMember } from "../probe/unlisted_members.ts";

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
