/**
 * JSON indented by two spaces for the outer `depth` levels and compact below them, so a large
 * document reads as one line per record (a plan: one line per operation) at two thirds of the
 * size of fully indented JSON, which is quicker to write, read and diff.
 */
export function jsonText(value: unknown, depth: number, indent = ""): string {
  if (depth <= 0 || value === null || typeof value !== "object") {
    return JSON.stringify(value) ?? "null";
  }
  const inner = indent + "  ";
  const parts: string[] = [];
  if (Array.isArray(value)) {
    for (const v of value) parts.push(inner + jsonText(v, depth - 1, inner));
    return parts.length ? `[\n${parts.join(",\n")}\n${indent}]` : "[]";
  }
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined || typeof v === "function") continue;
    parts.push(`${inner}${JSON.stringify(k)}: ${jsonText(v, depth - 1, inner)}`);
  }
  return parts.length ? `{\n${parts.join(",\n")}\n${indent}}` : "{}";
}
