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

/** UTF-8 bytes collected in blocks of about 1 MB, so text can be encoded piece by piece. */
export class ByteBlocks {
  private readonly blocks: Uint8Array[] = [];
  private block = new Uint8Array(BLOCK);
  private used = 0;
  private readonly enc = new TextEncoder();

  write(s: string): void {
    while (true) {
      const r = this.enc.encodeInto(s, this.block.subarray(this.used));
      this.used += r.written;
      if (r.read === s.length) return;
      s = s.slice(r.read);
      if (this.used > 0) this.blocks.push(this.block.subarray(0, this.used));
      this.block = new Uint8Array(Math.max(BLOCK, s.length * 3));
      this.used = 0;
    }
  }

  /** The blocks written so far; writing may go on after. */
  finish(): Uint8Array[] {
    if (this.used > 0) {
      this.blocks.push(this.block.subarray(0, this.used));
      this.block = this.block.subarray(this.used);
      this.used = 0;
    }
    return this.blocks;
  }
}

const BLOCK = 1 << 20;
