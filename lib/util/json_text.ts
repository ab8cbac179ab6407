/**
 * JSON indented by two spaces for the outer `depth` levels and compact below them, so a large
 * document reads as one line per record (a plan: one line per operation) at two thirds of the
 * size of fully indented JSON, which is quicker to write, read and diff.
 *
 * The text is handed to `emit` in pieces as it is produced, so a large document can be encoded
 * or hashed without being held whole as a string; the last piece closes the outer value.
 */
export function jsonPieces(
  value: unknown,
  depth: number,
  emit: (piece: string) => void,
  indent = "",
): void {
  if (depth <= 0 || value === null || typeof value !== "object") {
    emit(JSON.stringify(value) ?? "null");
    return;
  }
  const inner = indent + "  ";
  let first = true;
  if (Array.isArray(value)) {
    emit("[");
    for (const v of value) {
      emit((first ? "\n" : ",\n") + inner);
      first = false;
      jsonPieces(v, depth - 1, emit, inner);
    }
    emit(first ? "]" : `\n${indent}]`);
    return;
  }
  emit("{");
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined || typeof v === "function") continue;
    emit(`${first ? "\n" : ",\n"}${inner}${JSON.stringify(k)}: `);
    first = false;
    jsonPieces(v, depth - 1, emit, inner);
  }
  emit(first ? "}" : `\n${indent}}`);
}

/**
 * Encodes text as UTF-8 through one reused buffer of about 1 MB, handing each full buffer to
 * `sink`, so a large document is written without ever being held whole. The bytes given to
 * `sink` are valid only during the call.
 */
export class ChunkedEncoder {
  private buf = new Uint8Array(BUFFER);
  private used = 0;
  private readonly enc = new TextEncoder();

  constructor(private readonly sink: (bytes: Uint8Array) => void) {}

  write(s: string): void {
    while (true) {
      const r = this.enc.encodeInto(s, this.buf.subarray(this.used));
      this.used += r.written;
      if (r.read === s.length) return;
      s = s.slice(r.read);
      if (this.used === 0) this.buf = new Uint8Array(s.length * 3); // one piece larger than it
      else this.flush();
    }
  }

  /** Hands over what is buffered. */
  flush(): void {
    if (this.used === 0) return;
    this.sink(this.buf.subarray(0, this.used));
    this.used = 0;
  }
}

const BUFFER = 1 << 20;
