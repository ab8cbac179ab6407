import { createHash } from "node:crypto";
import { sha256Hex } from "../util/hash.ts";
import { jsonChunks } from "../util/json_text.ts";
import type { Plan } from "./schema.ts";

/** plan → phases → phase → operations → operation: each operation is written on one line. */
const OPERATION_DEPTH = 4;

/** A plan and the exact text of its file. */
export interface SealedPlan {
  plan: Plan;
  text: string;
}

/**
 * The file ends with the content hash, written as its last member; the hash covers every byte
 * before it. Hashing the bytes, rather than re-serialising the parsed document, keeps checking a
 * large plan cheap (one sha256 pass), and any edit, even one that only reformats, counts as a
 * modification.
 */
const TRAILER = / {2}"content_hash": "(sha256:[0-9a-f]{64})"\n\}\n$/;

/** Gives a plan its content hash and the text of its file (content_hash last). */
export function sealPlan(plan: Omit<Plan, "content_hash">): SealedPlan {
  const chunks: string[] = [];
  jsonChunks(plan, OPERATION_DEPTH, chunks);
  // The last piece closes the plan ("\n}"); the hashed prefix instead goes on to one more member.
  chunks[chunks.length - 1] = ",\n";
  const hash = createHash("sha256");
  for (const c of chunks) hash.update(c);
  const content_hash = "sha256:" + hash.digest("hex");
  chunks.push(`  "content_hash": "${content_hash}"\n}\n`);
  return { plan: { ...plan, content_hash }, text: chunks.join("") };
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
