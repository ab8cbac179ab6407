/**
 * Reading a file the user named (a topology, a plan, a plan on standard input): every way it
 * can fail — missing, a directory, unreadable, not UTF-8, larger than a limit — is a MupError
 * naming the file, never an OS error passed up as an internal one.
 */
import { MupError } from "../errors.ts";

/** What the caller reads, for the messages: e.g. "plan file", "topology file". */
export interface ReadTextOptions {
  what: string;
  /** A hint for a file that cannot be read. */
  hint?: string;
  /** Bytes at most; reading stops past it and `tooLarge` is called with that count. */
  maxBytes?: number;
  /** The error for a file over maxBytes (`bytes`, or more when reading stopped there). */
  tooLarge?: (bytes: number, stopped: boolean) => Error;
}

/** The file's text (strict UTF-8) and its size in bytes. */
export interface ReadText {
  text: string;
  bytes: number;
}

/**
 * Reads `file` (a path, or "-"/"<stdin>" for standard input) as UTF-8 text. A file whose
 * stat already says it is over maxBytes is refused without being read; a device or pipe
 * (no size) is read up to the limit.
 */
export async function readUserText(file: string, o: ReadTextOptions): Promise<ReadText> {
  const stdin = file === "<stdin>";
  const named = stdin ? "standard input" : `${o.what} ${file}`;
  const fail = (why: string) =>
    new MupError(`cannot read ${named}: ${why}`, o.hint ? { hint: o.hint } : {});
  let bytes: Uint8Array;
  try {
    const info = stdin ? undefined : await Deno.stat(file);
    if (info?.isDirectory) throw fail("it is a directory, not a file");
    if (o.maxBytes !== undefined && info?.isFile && info.size > o.maxBytes) {
      throw o.tooLarge?.(info.size, false) ?? fail(`it is larger than ${o.maxBytes} bytes`);
    }
    const read = await readBounded(stdin ? Deno.stdin : await Deno.open(file), o.maxBytes, !stdin);
    if (!read) {
      throw o.tooLarge?.((o.maxBytes ?? 0) + 1, true) ??
        fail(`it holds more than ${o.maxBytes} bytes`);
    }
    bytes = read;
  } catch (e) {
    // The caller's own errors (a limit's) pass; an OS error says what it was, with the file.
    if (e instanceof MupError || !(e instanceof Error) || !(e.name in Deno.errors)) throw e;
    throw fail(reason(e));
  }
  try {
    return { text: new TextDecoder("utf-8", { fatal: true }).decode(bytes), bytes: bytes.length };
  } catch {
    throw fail("it is not UTF-8 text (is this the right file?)");
  }
}

/**
 * An OS error of reading a file as a user reads it ("no such file", "permission denied"), without
 * Deno's "(os error 2): readfile '…'" tail; other errors keep their message.
 */
export function reason(e: Error): string {
  if (e instanceof Deno.errors.NotFound) return "no such file";
  if (e instanceof Deno.errors.IsADirectory) return "it is a directory, not a file";
  if (e instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (e instanceof Deno.errors.NotADirectory) {
    return "a part of its path is a file, not a directory";
  }
  return e.message;
}

async function readBounded(
  f: { read(p: Uint8Array): Promise<number | null>; close?: () => void },
  max: number | undefined,
  close: boolean,
): Promise<Uint8Array | undefined> {
  try {
    const chunks: Uint8Array[] = [];
    let total = 0;
    const buf = new Uint8Array(64 * 1024);
    for (let n = await f.read(buf); n !== null; n = await f.read(buf)) {
      total += n;
      if (max !== undefined && total > max) return undefined;
      chunks.push(buf.slice(0, n));
    }
    const out = new Uint8Array(total);
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  } finally {
    if (close) f.close?.();
  }
}
