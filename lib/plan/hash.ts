import { createHash } from "node:crypto";
import { sha256Hex } from "../util/hash.ts";
import { ByteBlocks, jsonPieces } from "../util/json_text.ts";
import type { Plan } from "./schema.ts";

/** plan → phases → phase → operations → operation: each operation is written on one line. */
const OPERATION_DEPTH = 4;

/** A plan and the exact bytes of its file. */
export interface SealedPlan {
  plan: Plan;
  /** The file's UTF-8 bytes, in blocks (see planFileText for them as one string). */
  bytes: Uint8Array[];
}

/**
 * The file ends with the content hash, written as its last member; the hash covers every byte
 * before it. Hashing the bytes, rather than re-serialising the parsed document, keeps checking a
 * large plan cheap (one sha256 pass), and any edit, even one that only reformats, counts as a
 * modification.
 */
const TRAILER = / {2}"content_hash": "(sha256:[0-9a-f]{64})"\n\}\n$/;

/**
 * Gives a plan its content hash and the bytes of its file (content_hash last). The text is
 * encoded piece by piece as it is produced: a large plan is never held whole as a string.
 */
export function sealPlan(plan: Omit<Plan, "content_hash">): SealedPlan {
  const out = new ByteBlocks();
  let held: string | undefined;
  jsonPieces(plan, OPERATION_DEPTH, (piece) => {
    if (held !== undefined) out.write(held);
    held = piece;
  });
  // `held` is "\n}", which closes the plan; the hashed prefix goes on to one more member.
  out.write(",\n");
  const hash = createHash("sha256");
  for (const b of out.finish()) hash.update(b);
  const content_hash = "sha256:" + hash.digest("hex");
  out.write(`  "content_hash": "${content_hash}"\n}\n`);
  return { plan: { ...plan, content_hash }, bytes: out.finish() };
}

/** A sealed plan's file as one string. */
export function planFileText({ bytes }: SealedPlan): string {
  const all = new Uint8Array(bytes.reduce((n, b) => n + b.length, 0));
  let off = 0;
  for (const b of bytes) {
    all.set(b, off);
    off += b.length;
  }
  return new TextDecoder().decode(all);
}

/**
 * The hash a plan file records in its trailer and the hash of the bytes before it; `recorded`
 * is undefined when the file does not end the way sealPlan() writes it.
 */
export function planFileHash(text: string): { recorded?: string; computed?: string } {
  const m = TRAILER.exec(text.slice(-128));
  if (!m) return {};
  return {
    recorded: m[1],
    computed: "sha256:" + sha256Hex(text.slice(0, text.length - m[0].length)),
  };
}
