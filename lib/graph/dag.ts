import { DirectedGraph } from "graphology";

/** A node as the graph sees it: no knowledge of what it does. */
export interface DagNode {
  id: string;
  /** IDs this node needs to have finished first. */
  dependsOn: readonly string[];
  /** Estimated duration, for the critical path. */
  weight?: number;
  /** Cluster for drawing (a plan's phase). */
  group?: string;
  /** Position of the group; a node may not depend on a node of a later group. */
  rank?: number;
  /** May run concurrently with other parallel nodes. */
  parallel?: boolean;
}

export interface DagIssue {
  code: "duplicate_id" | "unknown_dependency" | "cycle" | "later_dependency" | "self_dependency";
  message: string;
  nodes: string[];
}

export type NodeAttrs = Omit<DagNode, "id" | "dependsOn">;

/**
 * A directed acyclic graph whose edges run from a dependency to its dependent
 * (`a -> b` means "b needs a"), so a topological order is an execution order.
 */
export class Dag {
  readonly graph = new DirectedGraph<NodeAttrs>({ multi: false, allowSelfLoops: false });
  readonly issues: DagIssue[] = [];

  constructor(nodes: readonly DagNode[]) {
    for (const n of nodes) {
      if (this.graph.hasNode(n.id)) {
        this.issues.push({
          code: "duplicate_id",
          message: `operation ID "${n.id}" is used more than once`,
          nodes: [n.id],
        });
        continue;
      }
      const { id: _id, dependsOn: _d, ...attrs } = n;
      this.graph.addNode(n.id, attrs);
    }
    for (const n of nodes) {
      for (const d of n.dependsOn) {
        if (d === n.id) {
          this.issues.push({
            code: "self_dependency",
            message: `"${n.id}" depends on itself`,
            nodes: [n.id],
          });
        } else if (!this.graph.hasNode(d)) {
          this.issues.push({
            code: "unknown_dependency",
            message: `"${n.id}" depends on unknown operation "${d}"`,
            nodes: [n.id, d],
          });
        } else if (!this.graph.hasEdge(d, n.id)) {
          const later = (this.graph.getNodeAttribute(d, "rank") ?? 0) > (n.rank ?? 0);
          if (later) {
            this.issues.push({
              code: "later_dependency",
              message: `"${n.id}" (${n.group}) depends on "${d}" (${
                this.graph.getNodeAttribute(d, "group")
              }), which belongs to a later phase`,
              nodes: [n.id, d],
            });
          }
          this.graph.addDirectedEdge(d, n.id);
        }
      }
    }
    const cycle = this.findCycle();
    if (cycle) {
      this.issues.push({
        code: "cycle",
        message: `dependency cycle: ${[...cycle, cycle[0]].join(" -> ")}`,
        nodes: cycle,
      });
    }
  }

  get valid(): boolean {
    return this.issues.length === 0;
  }

  dependencies(id: string): string[] {
    return this.graph.inNeighbors(id);
  }

  dependents(id: string): string[] {
    return this.graph.outNeighbors(id);
  }

  attrs(id: string): NodeAttrs {
    return this.graph.getNodeAttributes(id);
  }

  /** Kahn's algorithm; ties keep insertion order, so the order is stable. Throws on a cycle. */
  topologicalOrder(): string[] {
    const indeg = new Map<string, number>();
    this.graph.forEachNode((n) => indeg.set(n, this.graph.inDegree(n)));
    const ready = this.graph.nodes().filter((n) => indeg.get(n) === 0);
    const out: string[] = [];
    for (let i = 0; i < ready.length; i++) {
      const n = ready[i];
      out.push(n);
      this.graph.forEachOutNeighbor(n, (m) => {
        const d = indeg.get(m)! - 1;
        indeg.set(m, d);
        if (d === 0) ready.push(m);
      });
    }
    if (out.length !== this.graph.order) throw new Error("graph has a cycle");
    return out;
  }

  /** Iterative DFS with colours; returns the nodes of one cycle, or undefined. */
  private findCycle(): string[] | undefined {
    const colour = new Map<string, 0 | 1 | 2>();
    const parent = new Map<string, string>();
    for (const start of this.graph.nodes()) {
      if (colour.get(start)) continue;
      const stack: [string, string[], number][] = [[start, this.graph.outNeighbors(start), 0]];
      colour.set(start, 1);
      while (stack.length) {
        const top = stack[stack.length - 1];
        const [node, next] = top;
        if (top[2] >= next.length) {
          colour.set(node, 2);
          stack.pop();
          continue;
        }
        const m = next[top[2]++];
        const c = colour.get(m) ?? 0;
        if (c === 1) {
          const cycle = [m];
          for (let x = node; x !== m; x = parent.get(x)!) cycle.splice(1, 0, x);
          return cycle;
        }
        if (c === 0) {
          colour.set(m, 1);
          parent.set(m, node);
          stack.push([m, this.graph.outNeighbors(m), 0]);
        }
      }
    }
    return undefined;
  }
}
