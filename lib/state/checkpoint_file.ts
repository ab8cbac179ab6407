/** Reading a checkpoint file (`apply-<id>-checkpoints/checkpoint-NNN.json`) back. */
import { z } from "zod";
import { MupError } from "../errors.ts";
import { ApplyState, Checkpoint, type CheckpointRef, STATE_FORMAT_VERSION } from "./schema.ts";
import { newerFormat, newerFormatText } from "./format_version.ts";

/** Why a checkpoint file cannot be used: "missing", or "damaged" with what is wrong. */
export interface CheckpointProblem {
  kind: "missing" | "damaged";
  detail: string;
}

/** The apply state a checkpoint file holds, or what is wrong with the file. */
export async function loadCheckpoint(
  ref: CheckpointRef,
): Promise<{ state: ApplyState } | { problem: CheckpointProblem }> {
  let text: string;
  try {
    text = await Deno.readTextFile(ref.path);
  } catch (e) {
    return e instanceof Deno.errors.NotFound
      ? { problem: { kind: "missing", detail: "the file is gone" } }
      : { problem: { kind: "damaged", detail: (e as Error).message } };
  }
  const issues = (e: z.ZodError) =>
    e.issues.slice(0, 3).map((i) => `${z.core.toDotPath(i.path)}: ${i.message}`).join("; ");
  try {
    const raw = JSON.parse(text);
    const newer = newerFormat(raw, STATE_FORMAT_VERSION);
    if (newer !== undefined) {
      return { problem: { kind: "damaged", detail: newerFormatText(newer, STATE_FORMAT_VERSION) } };
    }
    const cp = Checkpoint.safeParse(raw);
    if (!cp.success) return { problem: { kind: "damaged", detail: issues(cp.error) } };
    const st = ApplyState.safeParse(JSON.parse(cp.data.state));
    if (!st.success) {
      return { problem: { kind: "damaged", detail: `its state: ${issues(st.error)}` } };
    }
    if (cp.data.id !== ref.id) {
      return {
        problem: { kind: "damaged", detail: `it holds checkpoint ${cp.data.id}, not ${ref.id}` },
      };
    }
    return { state: st.data };
  } catch (e) {
    return { problem: { kind: "damaged", detail: `not JSON: ${(e as Error).message}` } };
  }
}

/** What is wrong with a checkpoint's file, undefined when it can be used. */
export async function checkpointProblem(
  ref: CheckpointRef,
): Promise<CheckpointProblem | undefined> {
  const r = await loadCheckpoint(ref);
  return "problem" in r ? r.problem : undefined;
}

/**
 * The apply state of a checkpoint, for a rollback to it; a MupError naming the file and the
 * other ways back when it is missing or damaged.
 */
export async function readCheckpointState(
  ref: CheckpointRef,
  others: { cluster: string; stateId: string; usable: () => Promise<string[]> },
): Promise<ApplyState> {
  const r = await loadCheckpoint(ref);
  if ("state" in r) return r.state;
  const what = r.problem.kind === "missing"
    ? `is missing (${ref.path})`
    : `is damaged (${ref.path}: ${r.problem.detail})`;
  const usable = await others.usable();
  throw new MupError(
    `checkpoint ${ref.id} of apply ${others.stateId} ${what}; cannot roll back to it`,
    {
      hint:
        `restore the file from a backup, or roll back to another checkpoint: ${
          usable.join(", ")
        } (\`mup state rollback ${others.cluster} --checkpoint <id>\`; \`mup state checkpoints ` +
        `${others.cluster}\` shows which are usable)`,
      details: { state_id: others.stateId, checkpoint: ref.id, file: ref.path },
    },
  );
}

/**
 * What of an apply rolled back to a checkpoint other than `start` is still in effect: its state
 * at that checkpoint (the rollback undid only what completed after it). Undefined for one not
 * rolled back, rolled back to `start` (nothing is), or whose checkpoint file cannot be read.
 */
export async function rolledBackState(state: ApplyState): Promise<ApplyState | undefined> {
  const ref = rolledBackRef(state);
  const r = ref ? await loadCheckpoint(ref) : undefined;
  return r && "state" in r ? r.state : undefined;
}

/**
 * The checkpoint an apply was rolled back to, when one other than `start` (which has none):
 * undefined for an apply not rolled back, or one rolled back to `start`.
 */
export function rolledBackRef(state: ApplyState): CheckpointRef | undefined {
  return state.status === "rolled_back"
    ? state.checkpoints.find((c) => c.id === state.rolled_back_to)
    : undefined;
}
