import type { Dag } from "./dag.ts";

function q(s: string): string {
  return `"${s.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n")}"`;
}

/**
 * Graphviz DOT: one cluster per group, edges from dependency to dependent, parallel-safe nodes
 * drawn rounded and filled, nodes on the critical path (if given, in path order) outlined in red
 * and only the edges between consecutive nodes of that path drawn red; a legend explains the
 * marks. Nodes are labelled by `label` (their ID by default), asked for only while drawing.
 */
export function toDot(
  dag: Dag,
  options: { name?: string; highlight?: Iterable<string>; label?: (id: string) => string } = {},
): string {
  const path = [...(options.highlight ?? [])];
  const hot = new Set(path);
  // An edge is on the critical path only if it joins two consecutive nodes of the path: two
  // path nodes may also be joined by a shortcut edge that is not.
  const hotEdges = new Set(path.slice(1).map((to, i) => `${path[i]}\u0000${to}`));
  const label = options.label ?? ((id: string) => id);
  const groups = new Map<string, string[]>();
  for (const id of dag.graph.nodes()) {
    const g = dag.attrs(id).group ?? "";
    const ids = groups.get(g);
    if (ids) ids.push(id);
    else groups.set(g, [id]);
  }
  const lines = [
    `digraph ${q(options.name ?? "plan")} {`,
    `  rankdir = "LR";`,
    `  compound = true;`,
    `  node [shape = box, fontname = "sans-serif", fontsize = 10];`,
    `  edge [color = "#555555"];`,
  ];
  let i = 0;
  for (const [group, ids] of groups) {
    const indent = group ? "    " : "  ";
    if (group) {
      lines.push(
        `  subgraph ${q(`cluster_${i++}_${group}`)} {`,
        `    label = ${q(group)};`,
        `    style = "rounded";`,
        `    color = "#888888";`,
      );
    }
    for (const id of ids) {
      const a = dag.attrs(id);
      const style = a.parallel
        ? `style = "rounded,filled", fillcolor = "#e3f2fd"`
        : `style = "filled", fillcolor = "#fff3e0"`;
      const red = hot.has(id) ? `, color = "red", penwidth = 2` : "";
      lines.push(`${indent}${q(id)} [label = ${q(label(id))}, ${style}${red}];`);
    }
    if (group) lines.push("  }");
  }
  dag.graph.forEachEdge((_e, _a, from, to) => {
    const red = hotEdges.has(`${from}\u0000${to}`) ? ` [color = "red", penwidth = 2]` : "";
    lines.push(`  ${q(from)} -> ${q(to)}${red};`);
  });
  lines.push(`  subgraph "cluster_legend" {`, `    label = "legend";`, `    style = "dashed";`);
  lines.push(
    `    "legend_parallel" [label = "parallel-safe", style = "rounded,filled", fillcolor = "#e3f2fd"];`,
  );
  lines.push(
    `    "legend_serial" [label = "runs alone", style = "filled", fillcolor = "#fff3e0"];`,
  );
  if (path.length) {
    lines.push(
      `    "legend_critical" [label = "critical path", style = "filled", fillcolor = "white", color = "red", penwidth = 2];`,
      `    "legend_critical_next" [label = "next on the critical path", style = "filled", fillcolor = "white", color = "red", penwidth = 2];`,
      `    "legend_dep" [label = "dependency", style = "filled", fillcolor = "white"];`,
      `    "legend_dependent" [label = "dependent", style = "filled", fillcolor = "white"];`,
      `    "legend_critical" -> "legend_critical_next" [color = "red", penwidth = 2];`,
      `    "legend_dep" -> "legend_dependent";`,
    );
  }
  lines.push("  }");
  lines.push("}");
  return lines.join("\n") + "\n";
}
