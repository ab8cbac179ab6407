/**
 * JSON indented by two spaces for the outer `depth` levels and compact below them, so a large
 * document reads as one line per record (a plan: one line per operation) at two thirds of the
 * size of fully indented JSON, which is quicker to write, read and diff.
 *
 * The text is appended to `out` in pieces, so that a caller can hash or write them without
 * building intermediate copies of a large document; the last piece closes the outer value.
 */
export function jsonChunks(value: unknown, depth: number, out: string[], indent = ""): void {
  if (depth <= 0 || value === null || typeof value !== "object") {
    out.push(JSON.stringify(value) ?? "null");
    return;
  }
  const inner = indent + "  ";
  let first = true;
  if (Array.isArray(value)) {
    out.push("[");
    for (const v of value) {
      out.push((first ? "\n" : ",\n") + inner);
      first = false;
      jsonChunks(v, depth - 1, out, inner);
    }
    out.push(first ? "]" : `\n${indent}]`);
    return;
  }
  out.push("{");
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined || typeof v === "function") continue;
    out.push(`${first ? "\n" : ",\n"}${inner}${JSON.stringify(k)}: `);
    first = false;
    jsonChunks(v, depth - 1, out, inner);
  }
  out.push(first ? "}" : `\n${indent}}`);
}
