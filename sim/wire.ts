/**
 * MongoDB wire protocol framing (little-endian): OP_MSG (2013), OP_QUERY (2004), OP_REPLY (1).
 * Requests may carry kind-1 sections; replies are always one kind-0 section.
 */
import { BSON, type Document } from "bson";

export const OP_REPLY = 1;
export const OP_QUERY = 2004;
export const OP_COMPRESSED = 2012;
export const OP_MSG = 2013;

export const FLAG_CHECKSUM = 1 << 0;
export const FLAG_MORE_TO_COME = 1 << 1;
export const FLAG_EXHAUST_ALLOWED = 1 << 16;

export interface Header {
  length: number;
  requestId: number;
  responseTo: number;
  opCode: number;
}

export type Request =
  | { kind: "msg"; header: Header; flags: number; body: Document }
  | { kind: "query"; header: Header; collection: string; numberToReturn: number; query: Document }
  | { kind: "other"; header: Header };

export class ProtocolError extends Error {}

export function parseMessage(buf: Uint8Array, options: { promoteLongs?: boolean } = {}): Request {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const header: Header = {
    length: dv.getInt32(0, true),
    requestId: dv.getInt32(4, true),
    responseTo: dv.getInt32(8, true),
    opCode: dv.getInt32(12, true),
  };
  if (header.opCode === OP_MSG) {
    const flags = dv.getUint32(16, true);
    if (flags & 0xfffc) {
      throw new ProtocolError(`unknown required OP_MSG flag bits ${flags & 0xfffc}`);
    }
    const end = flags & FLAG_CHECKSUM ? header.length - 4 : header.length;
    let off = 20;
    let body: Document | undefined;
    const seqs: Record<string, Document[]> = {};
    while (off < end) {
      const kind = buf[off++];
      if (kind === 0) {
        const size = dv.getInt32(off, true);
        if (body) throw new ProtocolError("OP_MSG has more than one kind-0 section");
        body = BSON.deserialize(buf.subarray(off, off + size), options);
        off += size;
      } else if (kind === 1) {
        const size = dv.getInt32(off, true);
        const stop = off + size;
        let p = off + 4;
        const nul = buf.indexOf(0, p);
        const id = new TextDecoder().decode(buf.subarray(p, nul));
        p = nul + 1;
        const docs: Document[] = [];
        while (p < stop) {
          const ds = dv.getInt32(p, true);
          docs.push(BSON.deserialize(buf.subarray(p, p + ds), options));
          p += ds;
        }
        seqs[id] = docs;
        off = stop;
      } else throw new ProtocolError(`unknown OP_MSG section kind ${kind}`);
    }
    if (!body) throw new ProtocolError("OP_MSG has no kind-0 section");
    for (const [id, docs] of Object.entries(seqs)) body[id] = docs;
    return { kind: "msg", header, flags, body };
  }
  if (header.opCode === OP_QUERY) {
    let off = 20;
    const nul = buf.indexOf(0, off);
    const collection = new TextDecoder().decode(buf.subarray(off, nul));
    off = nul + 1 + 4; // numberToSkip
    const numberToReturn = dv.getInt32(off, true);
    off += 4;
    const size = dv.getInt32(off, true);
    const query = BSON.deserialize(buf.subarray(off, off + size));
    return { kind: "query", header, collection, numberToReturn, query };
  }
  return { kind: "other", header };
}

function header(length: number, requestId: number, responseTo: number, opCode: number): Uint8Array {
  const h = new Uint8Array(16);
  const dv = new DataView(h.buffer);
  dv.setInt32(0, length, true);
  dv.setInt32(4, requestId, true);
  dv.setInt32(8, responseTo, true);
  dv.setInt32(12, opCode, true);
  return h;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

let nextId = 1;
export function newRequestId(): number {
  nextId = (nextId % 0x7ffffff0) + 1;
  return nextId;
}

export function encodeMsg(
  doc: Document,
  responseTo: number,
  requestId = newRequestId(),
  flags = 0,
): Uint8Array {
  const body = BSON.serialize(doc);
  const f = new Uint8Array(4);
  new DataView(f.buffer).setUint32(0, flags, true);
  const len = 16 + 4 + 1 + body.length;
  return concat([header(len, requestId, responseTo, OP_MSG), f, new Uint8Array([0]), body]);
}

/** BSONObjMaxInternalSize: the largest reply document a server sends (16 MiB + 16 KiB). */
export const MAX_REPLY_BYTES = 16 * 1024 * 1024 + 16 * 1024;

/**
 * A reply's OP_MSG; a reply too large to send becomes mongod's BSONObjectTooLarge (10334) error
 * instead, so that the client hears why rather than losing the connection.
 */
export function encodeReplyMsg(doc: Document, responseTo: number): Uint8Array {
  let size: number;
  try {
    size = BSON.calculateObjectSize(doc);
    if (size <= MAX_REPLY_BYTES) return encodeMsg(doc, responseTo);
  } catch {
    size = Number.NaN;
  }
  return encodeMsg({
    ok: 0,
    errmsg: `BSONObj size: ${size} (0x${size.toString(16).toUpperCase()}) is invalid. ` +
      `Size must be between 0 and ${MAX_REPLY_BYTES}(16MB)`,
    code: 10334,
    codeName: "BSONObjectTooLarge",
  }, responseTo);
}

export function encodeReply(doc: Document, responseTo: number): Uint8Array {
  const body = BSON.serialize(doc);
  const fixed = new Uint8Array(20); // flags, cursorID (8), startingFrom, numberReturned
  new DataView(fixed.buffer).setInt32(16, 1, true);
  return concat([header(16 + 20 + body.length, newRequestId(), responseTo, OP_REPLY), fixed, body]);
}

/** Reads whole messages from a byte stream. */
export class MessageReader {
  private buf: Uint8Array = new Uint8Array(0);

  constructor(
    private readonly conn: { read(p: Uint8Array): Promise<number | null> },
    private readonly maxSize = 48_000_000,
    /** Bytes already read from the connection (its first bytes, peeked at by the listener). */
    first?: Uint8Array,
  ) {
    if (first) this.buf = first;
  }

  async next(): Promise<Uint8Array | null> {
    while (true) {
      if (this.buf.length >= 4) {
        const len = new DataView(this.buf.buffer, this.buf.byteOffset).getInt32(0, true);
        if (len < 16 || len > this.maxSize) throw new ProtocolError(`bad message length ${len}`);
        if (this.buf.length >= len) {
          const msg = this.buf.slice(0, len);
          this.buf = this.buf.slice(len);
          return msg;
        }
      }
      const chunk = new Uint8Array(64 * 1024);
      const n = await this.conn.read(chunk);
      if (n === null) return null;
      this.buf = this.buf.length ? concat([this.buf, chunk.subarray(0, n)]) : chunk.slice(0, n);
    }
  }
}

/** The maxWireVersion each server release reports in hello, newest first. */
const WIRE: [string, number][] = [
  ["8.2", 27],
  ["8.0", 25],
  ["7.3", 24],
  ["7.2", 23],
  ["7.1", 22],
  ["7.0", 21],
  ["6.2", 19],
  ["6.1", 18],
  ["6.0", 17],
  ["5.0", 13],
  ["4.4", 9],
];

/** hello's maxWireVersion for a server version ("7.0.5"); else the nearest older release's. */
export function maxWireVersion(version: string): number {
  const mm = version.split(".").slice(0, 2).join(".");
  return WIRE.find(([v]) => v === mm)?.[1] ?? WIRE.find(([v]) => Number(v) <= Number(mm))?.[1] ??
    17;
}
