import type { ProcessSpec } from "./processes.ts";

/**
 * A replica set's voting arithmetic, by MongoDB's rule ("Replica Set Elections"): a primary is
 * elected and kept only while more than half of all configured votes are up. `total` is the sum
 * of the members' votes, `need` the majority (⌊total/2⌋ + 1), `count(f)` the votes of the
 * members `f` holds for (e.g. those running).
 */
export function setVotes(members: ProcessSpec[]): {
  total: number;
  need: number;
  count: (f: (p: ProcessSpec) => boolean) => number;
} {
  const count = (f: (p: ProcessSpec) => boolean) =>
    members.filter(f).reduce((n, p) => n + p.votes, 0);
  const total = count(() => true);
  return { total, need: Math.floor(total / 2) + 1, count };
}
