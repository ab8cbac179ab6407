/**
 * Replica-set members' election options, and membership, as their sets' configurations hold
 * them now (replSetGetConfig), for the planners that compare them with the topology. Read-only.
 */
import type { MongoAccess } from "../mongo/client.ts";
import type { ClusterMeta } from "../state/meta.ts";
import { hostPort, machinePort } from "../topology/hosts.ts";
import type { Topology } from "../topology/schema.ts";
import type { ProcessFact } from "../plan/lifecycle.ts";
import { listProcesses, listReplicaSets } from "../plan/processes.ts";
import { memberOptionChanges, type SetDrift } from "../plan/member_options.ts";

/**
 * Each set member's priority, votes and hidden flag as its set's configuration holds them now
 * (replSetGetConfig of a running member, the primary first), into `facts`; left out where no
 * member could say.
 */
export async function liveMemberOptions(
  meta: ClusterMeta,
  facts: Record<string, ProcessFact>,
  access: MongoAccess,
): Promise<void> {
  const sets = new Map<string, ClusterMeta["processes"]>();
  for (const p of meta.processes) {
    if (p.replica_set) sets.set(p.replica_set, [...(sets.get(p.replica_set) ?? []), p]);
  }
  await Promise.all([...sets.values()].map(async (members) => {
    const asked = members.filter((m) => facts[m.id]?.running)
      .sort((a, b) =>
        Number(facts[b.id].state === "PRIMARY") - Number(facts[a.id].state === "PRIMARY")
      );
    for (const m of asked) {
      const r = await access.adminCommand(m.host, m.port, { replSetGetConfig: 1 }).catch(() =>
        undefined
      );
      // A member removed from the set still holds a config, but no longer the set's.
      if (facts[m.id].state !== "PRIMARY" && r?.config && !listsItself(r.config, m)) continue;
      const cfg = (r?.config?.members ?? []) as {
        host: string;
        priority?: number;
        votes?: number;
        hidden?: boolean;
      }[];
      if (!cfg.length) continue;
      const byMember = new Map(cfg.map((c) => [machinePort(c.host), c]));
      for (const x of members) {
        const c = byMember.get(machinePort(hostPort(x.host, x.port)));
        if (c === undefined) {
          facts[x.id] = { ...facts[x.id], removed: true };
          continue;
        }
        // MongoDB's defaults for the fields a config leaves out.
        facts[x.id] = {
          ...facts[x.id],
          priority: Number(c.priority ?? 1),
          votes: Number(c.votes ?? 1),
          hidden: c.hidden === true,
        };
      }
      return;
    }
  }));
}

/** Whether a replSetGetConfig `config` lists the member `m` (by machine and port). */
function listsItself(config: { members?: { host: string }[] }, m: { host: string; port: number }) {
  const me = machinePort(hostPort(m.host, m.port));
  return (config.members ?? []).some((c) => machinePort(c.host) === me);
}

/**
 * How the live sets of a recorded cluster differ from `topology` (the recorded one, given again
 * to a repair): members' options, and members removed. Every recorded process but those in
 * `down` (process IDs) is taken to answer; each set's configuration is read from its primary
 * (hello first), else another member that lists itself; a set no member of which answers has
 * none. A member down is judged by that configuration too: one removed by hand while stopped is
 * found removed, so the repair that starts it adds it back.
 */
export async function memberDrift(
  meta: ClusterMeta,
  topology: Topology,
  deployDir: string,
  access: MongoAccess,
  down: ReadonlySet<string> = new Set(),
): Promise<SetDrift> {
  const facts: Record<string, ProcessFact> = Object.fromEntries(
    await Promise.all(meta.processes.map(async (p) => {
      if (down.has(p.id)) return [p.id, { running: false }];
      const h = p.replica_set ? await access.hello(p.host, p.port) : undefined;
      return [p.id, { running: true, ...(h?.isWritablePrimary ? { state: "PRIMARY" } : {}) }];
    })),
  );
  await liveMemberOptions(meta, facts, access);
  const procs = listProcesses(topology, deployDir);
  return {
    options: memberOptionChanges(
      listReplicaSets(procs),
      listProcesses(meta.topology, deployDir),
      facts,
    ),
    removed: procs.filter((p) => facts[p.id]?.removed),
    // A set none of whose members got options or membership from a configuration was not read.
    unread: listReplicaSets(procs).filter((s) =>
      !s.members.some((m) => facts[m.id]?.priority !== undefined || facts[m.id]?.removed)
    ).map((s) => s.name),
  };
}
