import { createHash } from "node:crypto";
import { sha256Hex } from "../util/hash.ts";
import { ChunkedEncoder, jsonPieces } from "../util/json_text.ts";
import type { Plan } from "./schema.ts";

/** plan → phases → phase → operations → operation: each operation is written on one line. */
export const OPERATION_DEPTH = 4;

/**
 * The file ends with the content hash, written as its last member; the hash covers every byte
 * before it. Hashing the bytes, rather than re-serialising the parsed document, keeps checking a
 * large plan cheap (one sha256 pass), and any edit, even one that only reformats, counts as a
 * modification.
 */
const TRAILER = / {2}"content_hash": "(sha256:[0-9a-f]{64})"\n\}\n$/;

/**
 * Gives a plan its content hash, handing the bytes of its file (content_hash last) to `sink` in
 * order as they are encoded: a large plan's file is never held whole, as text or as bytes. The
 * bytes given to `sink` are valid only during the call.
 */
export function sealPlan(
  plan: Omit<Plan, "content_hash">,
  sink: (bytes: Uint8Array) => void = () => {},
): Plan {
  const hash = createHash("sha256");
  let hashing = true;
  const out = new ChunkedEncoder((bytes) => {
    if (hashing) hash.update(bytes);
    sink(bytes);
  });
  let held: string | undefined;
  jsonPieces(plan, OPERATION_DEPTH, (piece) => {
    if (held !== undefined) out.write(held);
    held = piece;
  });
  // `held` is "\n}", which closes the plan; the hashed prefix goes on to one more member.
  out.write(",\n");
  out.flush();
  hashing = false;
  const content_hash = "sha256:" + hash.digest("hex");
  out.write(`  "content_hash": "${content_hash}"\n}\n`);
  out.flush();
  return { ...plan, content_hash };
}

/** A plan sealed in memory, with its file's text (small plans: tests, dry runs). */
export function sealPlanText(plan: Omit<Plan, "content_hash">): { plan: Plan; text: string } {
  const dec = new TextDecoder();
  let text = "";
  const sealed = sealPlan(plan, (bytes) => text += dec.decode(bytes, { stream: true }));
  return { plan: sealed, text: text + dec.decode() };
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
