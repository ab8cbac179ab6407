import type { Dag } from "./dag.ts";

export interface CriticalPath {
  /** Node IDs from first to last. */
  path: string[];
  /** Sum of the weights along the path. */
  length: number;
}

/**
 * The longest weighted path: the least time the whole graph can take with unlimited
 * parallelism. `weight` overrides the nodes' own weights (e.g. measured durations).
 */
export function criticalPath(dag: Dag, weight?: (id: string) => number): CriticalPath {
  const w = weight ?? ((id: string) => dag.attrs(id).weight ?? 0);
  const finish = new Map<string, number>();
  const via = new Map<string, string | undefined>();
  let end: string | undefined;
  for (const id of dag.topologicalOrder()) {
    let start = 0;
    let from: string | undefined;
    for (const d of dag.dependencies(id)) {
      const f = finish.get(d)!;
      if (f > start) [start, from] = [f, d];
    }
    finish.set(id, start + w(id));
    via.set(id, from);
    if (end === undefined || finish.get(id)! > finish.get(end)!) end = id;
  }
  const path: string[] = [];
  for (let n = end; n !== undefined; n = via.get(n)) path.unshift(n);
  return { path, length: end === undefined ? 0 : finish.get(end)! };
}
