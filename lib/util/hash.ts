import { createHash, type Hash } from "node:crypto";

/**
 * sha256 of the value as JSON with object keys sorted at every level (so equal data hashes
 * equally), streamed over the upper levels of the document so that no
 * single giant string is built for large plans.
 */
export function canonicalHash(value: unknown): string {
  const h: Hash = createHash("sha256");
  stream(value, 0, (s) => h.update(s));
  return h.digest("hex");
}

function canon(v: unknown): string {
  if (v === null || v === undefined || typeof v !== "object") {
    return v === undefined ? "null" : JSON.stringify(v);
  }
  if (Array.isArray(v)) {
    let s = "[";
    for (let i = 0; i < v.length; i++) s += (i ? "," : "") + canon(v[i]);
    return s + "]";
  }
  const o = v as Record<string, unknown>;
  let s = "{";
  let first = true;
  for (const k of Object.keys(o).sort()) {
    if (o[k] === undefined) continue;
    s += (first ? "" : ",") + JSON.stringify(k) + ":" + canon(o[k]);
    first = false;
  }
  return s + "}";
}

/** The same bytes as canon(), emitted in pieces down to `depth` 4, whole strings below. */
function stream(v: unknown, depth: number, out: (s: string) => void): void {
  if (depth >= 4 || v === null || typeof v !== "object") {
    out(canon(v));
    return;
  }
  if (Array.isArray(v)) {
    out("[");
    for (let i = 0; i < v.length; i++) {
      if (i) out(",");
      stream(v[i], depth + 1, out);
    }
    out("]");
    return;
  }
  const o = v as Record<string, unknown>;
  out("{");
  let first = true;
  for (const k of Object.keys(o).sort()) {
    if (o[k] === undefined) continue;
    out((first ? "" : ",") + JSON.stringify(k) + ":");
    first = false;
    stream(o[k], depth + 1, out);
  }
  out("}");
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}
