import PQueue from "p-queue";
import type { Dag } from "./dag.ts";

export type WalkEvent =
  | { type: "start"; id: string }
  | { type: "done"; id: string; ms: number }
  | { type: "failed"; id: string; ms: number; error: unknown };

export interface WalkOptions {
  /** Most nodes running at once. */
  concurrency: number;
  /** Does the work of one node; a throw marks it failed. */
  run: (id: string) => Promise<void>;
  /** Nodes already finished (a resume): treated as done, never run. */
  completed?: Iterable<string>;
  /** Parallel-safe nodes share the queue; the others run alone. Defaults to the node attribute. */
  isParallel?: (id: string) => boolean;
  /** Aborting stops new work; running nodes finish (and `finishes` nodes still run). */
  signal?: AbortSignal;
  /**
   * Nodes that finish what a done dependency began (a start after its stop): once ready they
   * run even after an abort or a failure stopped other new work, so that a pause never leaves
   * that work half done. Defaults to none.
   */
  finishes?: (id: string) => boolean;
  /** Aborting stops all new work, `finishes` nodes too (a stop at once). */
  hardSignal?: AbortSignal;
  onEvent?: (e: WalkEvent) => void;
}

export interface WalkResult {
  completed: string[];
  failed: { id: string; error: unknown }[];
  /** Never started because work stopped (a failure or an abort). */
  notRun: string[];
  /** The signal stopped work that was left to do (notRun is not empty). */
  aborted: boolean;
}

/**
 * Runs a DAG: a node starts once all its dependencies are done. The first failure or an abort
 * stops new work but for `finishes` nodes; nodes already running finish. Among ready nodes, those with the longest remaining path
 * go first, which keeps the makespan near the critical path.
 */
export async function walk(dag: Dag, options: WalkOptions): Promise<WalkResult> {
  const g = dag.graph;
  const done = new Set(options.completed ?? []);
  const isParallel = options.isParallel ?? ((id: string) => dag.attrs(id).parallel ?? false);
  const tail = bottomLevels(dag);
  const waiting = new Map<string, number>();
  const ready = new MaxHeap((id) => tail.get(id)!);
  g.forEachNode((id) => {
    if (done.has(id)) return;
    const n = g.inNeighbors(id).filter((d) => !done.has(d)).length;
    waiting.set(id, n);
    if (n === 0) ready.push(id);
  });

  const queue = new PQueue({ concurrency: Math.max(1, options.concurrency) });
  const completed: string[] = [];
  const failed: WalkResult["failed"] = [];
  let running = 0;
  let exclusive = false;
  let stopped = false;
  let settle!: () => void;
  const finished = new Promise<void>((r) => (settle = r));

  const finishes = options.finishes ?? (() => false);
  const stop = () => {
    stopped = true;
    pump();
  };
  options.signal?.addEventListener("abort", stop, { once: true });
  options.hardSignal?.addEventListener("abort", stop, { once: true });

  const start = (id: string, alone: boolean) => {
    running++;
    exclusive = alone;
    const t0 = performance.now();
    queue.add(async () => {
      options.onEvent?.({ type: "start", id });
      await options.run(id);
    }).then(
      () => {
        done.add(id);
        completed.push(id);
        options.onEvent?.({ type: "done", id, ms: performance.now() - t0 });
        for (const m of g.outNeighbors(id)) {
          const n = waiting.get(m)! - 1;
          waiting.set(m, n);
          if (n === 0) ready.push(m);
        }
      },
      (error) => {
        failed.push({ id, error });
        options.onEvent?.({ type: "failed", id, ms: performance.now() - t0, error });
        stopped = true;
      },
    ).finally(() => {
      running--;
      if (alone) exclusive = false;
      pump();
    });
  };

  const pump = () => {
    if (options.hardSignal?.aborted) {
      if (running === 0) settle();
      return;
    }
    // Stopped (abort, failure): only nodes that finish begun work start; the rest wait.
    const only = stopped || options.signal?.aborted ? finishes : undefined;
    const held: string[] = [];
    while (ready.size > 0 && !exclusive) {
      const id = ready.peek()!;
      if (only && !only(id)) {
        held.push(ready.pop()!);
        continue;
      }
      if (!isParallel(id)) {
        if (running > 0) break;
        ready.pop();
        start(id, true);
        break;
      }
      ready.pop();
      start(id, false);
    }
    for (const id of held) ready.push(id);
    if (running === 0) settle();
  };

  pump();
  await finished;
  options.signal?.removeEventListener("abort", stop);
  options.hardSignal?.removeEventListener("abort", stop);
  const notRun = g.nodes().filter((id) => !done.has(id) && !failed.some((f) => f.id === id));
  // Aborted only when that left work undone: a signal that came while the last nodes finished
  // cut nothing short.
  return {
    completed,
    failed,
    notRun,
    aborted: (options.signal?.aborted ?? false) && notRun.length > 0,
  };
}

/** Longest weighted path from each node to any sink, including the node itself. */
function bottomLevels(dag: Dag): Map<string, number> {
  const order = dag.topologicalOrder();
  const level = new Map<string, number>();
  for (let i = order.length - 1; i >= 0; i--) {
    const id = order[i];
    let best = 0;
    for (const m of dag.dependents(id)) best = Math.max(best, level.get(m)!);
    level.set(id, best + (dag.attrs(id).weight ?? 1));
  }
  return level;
}

/** Ready nodes, longest remaining path first; ties in arrival order. */
class MaxHeap {
  private items: { id: string; key: number; seq: number }[] = [];
  private seq = 0;

  constructor(private readonly key: (id: string) => number) {}

  get size(): number {
    return this.items.length;
  }

  private before(a: number, b: number): boolean {
    const x = this.items[a], y = this.items[b];
    return x.key > y.key || (x.key === y.key && x.seq < y.seq);
  }

  private swap(a: number, b: number): void {
    [this.items[a], this.items[b]] = [this.items[b], this.items[a]];
  }

  push(id: string): void {
    this.items.push({ id, key: this.key(id), seq: this.seq++ });
    for (let i = this.items.length - 1; i > 0;) {
      const p = (i - 1) >> 1;
      if (!this.before(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  peek(): string | undefined {
    return this.items[0]?.id;
  }

  pop(): string | undefined {
    const top = this.items[0];
    const last = this.items.pop();
    if (this.items.length && last) {
      this.items[0] = last;
      for (let i = 0;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < this.items.length && this.before(l, m)) m = l;
        if (r < this.items.length && this.before(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top?.id;
  }
}
