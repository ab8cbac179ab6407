/**
 * A TLS switch (`cluster tls <name> enable|disable`) records the new mode in the metadata only
 * once every member runs it. Cut off part way, the members' configurations hold a mix of tlsMode
 * values while the metadata still records the old mode: a start, stop, restart or repair then
 * acts on members whose configuration the metadata does not describe (and a stop's record would
 * replace the switch's, so that it could no longer be resumed), and a second switch reads the
 * old mode. Every command but a destroy is refused until the switch is finished.
 *
 * An upgrade (`cluster upgrade`) is not refused over: until it records the new release some
 * members run binaries the metadata does not name, but the old release can still run them (the
 * FCV is raised only after the record), so the other commands work and say so in their plan
 * (unfinishedUpgradeWarning).
 */
import { MupError } from "../errors.ts";
import { shellJoin } from "../executor/shell_quote.ts";
import { readMeta } from "../state/meta.ts";
import {
  changedAnything,
  mayHaveActed,
  recordedReplan,
  type UnfinishedApply,
  unfinishedApply,
} from "../state/undeployed.ts";
import type { ValidationIssue } from "../plan/schema.ts";
import { MARK_OP, tlsSwitchAction } from "../plan/mark_op.ts";
import { scaleInCancellable } from "../plan/rollback_build.ts";

/** The upgrade's operation that records the new release in the metadata (upgrade.ts). */
const RECORD_OP = "update-metadata";

/**
 * Throws a MupError when the cluster is between TLS modes, naming the switch and
 * `mup plan resume <name>`: its metadata's `tls_switch` marker is set (written by the switch's
 * first operation, cleared by its last), or its current apply is a TLS switch that failed, was
 * paused or was cut off after that first operation (metadata written before the marker
 * existed). A switch stopped before its first operation completed changed nothing: not
 * refused. An apply whose mup still runs is left to the cluster lock. `command` names the command (e.g. "cluster restart x"); the
 * hint repeats the whole command line as given, options included, to run again afterwards.
 */
export async function refuseOverUnfinishedTlsSwitch(
  clusterDir: string,
  cluster: string,
  command: string,
): Promise<void> {
  const u = await unfinishedApply(clusterDir);
  if (u?.outcome === "running") return;
  const marker = (await readMeta(clusterDir).catch(() => undefined))?.tls_switch;
  // A switch whose first operation (the one writing the marker, which everything else follows)
  // never completed changed nothing: a hook that failed before it, a pause, a cut at once.
  const begun = u &&
    Object.values(u.state.operation_states).some((o) =>
      o.id === MARK_OP ? o.status === "completed" : o.status !== "pending"
    );
  const fromState = begun && tlsSwitchAction(u.state.operation);
  const action = marker?.action ?? fromState;
  if (!action) return;
  const stateId = fromState ? u.state.state_id : marker?.state_id;
  const how = fromState ? u.outcome : "did not finish";
  throw new MupError(
    `cluster ${cluster}'s TLS ${action} (apply ${stateId}) ${how} part way: its members' ` +
      `configurations are between TLS modes, and the metadata still records TLS ` +
      `${action === "enable" ? "off" : "on"} until the switch finishes. \`mup ${command}\` ` +
      (command.startsWith("cluster stop ")
        ? "would replace the switch as the cluster's current apply, and the start after it is " +
          "refused until the switch is finished"
        : "would act on a cluster the metadata does not describe"),
    {
      hint: `finish the switch first: \`mup plan resume ${cluster}\` (it goes on from where ` +
        `it stopped); then run \`mup ${
          shellJoin(Deno.args)
        }\` again. \`mup cluster destroy ${cluster}\` ` +
        "is the only other command that runs before then",
      details: { state_id: stateId, apply_status: fromState ? u.outcome : "unfinished" },
    },
  );
}

/**
 * The warning a plan made over an unfinished upgrade carries (undefined when there is none):
 * the members the upgrade moved to the new release run binaries the metadata does not name
 * until it finishes, and a start, restart or repair runs them on the recorded release again,
 * which they can (the FCV is raised only after the release is recorded). Made for every command
 * but the upgrade itself; nothing is refused, so that a member the new release cannot run is
 * started again on the old one.
 */
export async function unfinishedUpgradeWarning(
  clusterDir: string,
  cluster: string,
): Promise<ValidationIssue | undefined> {
  const u = await unfinishedApply(clusterDir);
  if (!u || u.outcome === "running" || u.state.operation !== "upgrade") return undefined;
  // The install before the mark changes no process.
  if (u.state.operation_states[MARK_OP]?.status !== "completed") return undefined;
  // Cut off after it recorded the new release (at the FCV step): the metadata names it already.
  if (u.state.operation_states[RECORD_OP]?.status === "completed") return undefined;
  // The balancer that upgrade stopped is started by its own last steps, which this plan drops.
  const balancer = (await readMeta(clusterDir).catch(() => undefined))?.balancer_stopped_by;
  return {
    code: "unfinished_upgrade",
    severity: "warning",
    message: `The upgrade of cluster ${cluster} (apply ${u.state.state_id}) ${u.outcome} part ` +
      "way: members it already restarted run the new release, which the metadata does not " +
      "name yet. This plan starts processes on the recorded release, and applying it replaces " +
      `that upgrade (\`mup plan resume ${cluster}\` finishes it instead; \`mup cluster ` +
      `upgrade ${cluster} --version …\` plans it again).` +
      (balancer?.state_id === u.state.state_id
        ? " The balancer it stopped stays off after this plan: no chunk moves between shards " +
          "until the next upgrade (or that resume) starts it again."
        : ""),
  };
}

/**
 * Throws a MupError when the cluster's current apply is a scale-out or a scale-in that failed,
 * was paused or was cut off after it began. A scale-out's started processes may run, and the
 * members it added serve in their sets, before the metadata lists them; a scale-in's members
 * may be out of their sets while the metadata still lists them. Another command would replace
 * it as the current apply (it could no longer be resumed) and act on a cluster the metadata does
 * not describe. `plan resume` completes it; a scale-out cut off before it recorded its processes
 * or added a shard is undone by `state rollback` (rollback_build.ts); a destroy removes it with
 * the rest (lifecycle_cmd.ts). `allow(state)` lets the caller accept one (a scale-in repeated).
 * `command` as for refuseOverUnfinishedTlsSwitch.
 */
export async function refuseOverUnfinishedScaling(
  clusterDir: string,
  cluster: string,
  command: string,
  allow: (state: UnfinishedApply["state"]) => boolean | Promise<boolean> = () => false,
): Promise<void> {
  const u = await unfinishedApply(clusterDir);
  if (!u || u.outcome === "running") return;
  const op = u.state.operation;
  if (op !== "scale-out" && op !== "scale-in") return;
  // One that changed nothing (a refusal before any work) is replaced like any apply.
  if (!changedAnything(u.state)) return;
  if (await allow(u.state)) return;
  // Added, or sent and not finished (rollback_build.ts refuses both).
  const shardAdded = Object.values(u.state.operation_states).some((o) =>
    o.id.startsWith("add-shard-") && (o.status === "completed" || mayHaveActed(o))
  );
  // A failure a resume alone cannot get past recorded what does (run_operation.ts).
  const replan = recordedReplan(u);
  // A scale-in that took nothing out yet is cancelled by a rollback to its start (tester109 #5).
  const plan = op === "scale-in"
    ? await Deno.readTextFile(u.state.plan_path).then(JSON.parse, () => undefined)
    : undefined;
  const cancel = plan?.phases && scaleInCancellable(u.state, plan)
    ? `; \`mup state rollback ${cluster} --checkpoint start\` cancels it (no member is out ` +
      "of its set yet; the rollback checks so as it runs)"
    : "";
  throw new MupError(
    `cluster ${cluster}'s ${op} (apply ${u.state.state_id}) ${u.outcome} part way: ${
      op === "scale-out"
        ? "the processes it started may run, and the members it added serve in their sets, " +
          "but the metadata does not list them until it finishes"
        : "the members it removes may be out of their sets already, and the metadata lists " +
          "them until it finishes"
    }. \`mup ${command}\` would replace it and act on a cluster the metadata does not describe`,
    {
      hint: `${
        replan
          ? `a resume alone cannot finish it while its failure stands: ${replan}`
          : u.outcome === "interrupted"
          ? `\`mup plan resume ${cluster}\` completes it (its mup was cut off: no failure to ` +
            "fix first)"
          : `\`mup plan resume ${cluster}\` completes it (once what stopped it is fixed: ` +
            `\`mup cluster display ${cluster}\` repeats what its failure named)`
      }${
        replan
          ? ""
          : op === "scale-in"
          ? `; the same scale-in again replaces it${cancel}`
          : shardAdded
          ? ""
          : `; \`mup state rollback ${cluster} --checkpoint start\` undoes it (the added ` +
            "members taken out of their sets, what it started stopped and removed)"
      }; then run this again`,
    },
  );
}
