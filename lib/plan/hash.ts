import { sha256Hex } from "../util/hash.ts";
import { jsonText } from "../util/json_text.ts";
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
  const body = jsonText(plan, OPERATION_DEPTH);
  // body ends with "\n}"; the hashed prefix continues it with the separator of one more member.
  const prefix = body.slice(0, -2) + ",\n";
  const content_hash = "sha256:" + sha256Hex(prefix);
  return {
    plan: { ...plan, content_hash },
    text: `${prefix}  "content_hash": "${content_hash}"\n}\n`,
  };
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
