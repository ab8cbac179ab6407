/**
 * What a reconfigure that did not finish leaves behind: configuration files on the hosts that
 * the metadata does not describe. A start refuses them, and a repair would write the recorded
 * ones back over them and restart nothing; only a resume, or the same reconfigure run again,
 * finishes it. Reads only.
 */
import { shellQuote } from "../executor/shell_quote.ts";
import type { ApplyState } from "../state/schema.ts";
import { allOperations, type Plan } from "./schema.ts";
import type { PlanStore } from "./store.ts";

/**
 * `mup cluster reconfigure <c> <file>`, with the file `plan` was made from when it says and it is
 * still there (on the control machine); a file moved or removed since is named in the
 * placeholder instead, so the hint never points at a file that is not there (tester110 #5).
 */
export async function reconfigureCommand(
  cluster: string,
  plan: Plan | undefined,
): Promise<string> {
  const file = plan?.topology_file;
  const there = file && await Deno.stat(file).then((s) => s.isFile, () => false);
  return `mup cluster reconfigure ${cluster} ${
    there
      ? shellQuote(file)
      : file
      ? `<topology: the one planned from ${file}, no longer there>`
      : "<topology>"
  }`;
}

/**
 * Whether the apply `state` of `plan` (a reconfigure) ran any step that writes a configuration
 * file (generate_config, upload_file). A plan that could not be read counts as having written:
 * nothing shows it did not.
 */
export function wroteConfiguration(plan: Plan | undefined, state: ApplyState): boolean {
  return !plan ||
    allOperations(plan).some((o) =>
      (o.type === "generate_config" || o.type === "upload_file") &&
      (state.operation_states[o.id]?.executions ?? 0) > 0
    );
}

/** A reconfigure later applies replaced after it wrote configuration files. */
export interface ReplacedWrites {
  state: ApplyState;
  plan?: Plan;
  /** The command that finishes it (reconfigureCommand). */
  command: string;
}

/**
 * The reconfigure that stops, starts or restarts replaced as the cluster's current apply
 * (`state`, from replacedReconfigure, which reads every apply state of the cluster, about 0.6 ms
 * each) when it wrote configuration files; undefined otherwise.
 */
export async function replacedReconfigureWrites(
  cluster: string,
  state: ApplyState | undefined,
  store: PlanStore,
): Promise<ReplacedWrites | undefined> {
  if (!state) return undefined;
  const plan = (await store.load(state.plan_path).catch(() => undefined))?.plan;
  if (!wroteConfiguration(plan, state)) return undefined;
  return { state, plan, command: await reconfigureCommand(cluster, plan) };
}
