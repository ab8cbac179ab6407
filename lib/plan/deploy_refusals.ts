/**
 * What a deploy of a recorded cluster (a repair) refuses before it plans: a reconfigure cut off
 * after it wrote configuration files (a repair from the metadata would write the old ones back
 * and restart nothing), and any difference from the recorded cluster (each is another command's).
 */
import * as path from "node:path";
import { MupError } from "../errors.ts";
import type { ClusterMeta } from "../state/meta.ts";
import { replacedOutcome, replacedReconfigure, unfinishedApply } from "../state/undeployed.ts";
import type { Topology } from "../topology/schema.ts";
import { recordedTopologyPath } from "./command_of.ts";
import { clusterDifferences, renderDifference } from "./redeploy.ts";
import {
  reconfigureCommand,
  replacedReconfigureWrites,
  wroteConfiguration,
} from "./reconfigure_left.ts";
import type { Variant } from "./schema.ts";
import type { PlanStore } from "./store.ts";

/**
 * Throws MupError (with the command that does it as hint) when the repair of `meta`'s cluster
 * (`clusterDir`) from `req.topologyFile` cannot go ahead; `asked` is the topology (ports and
 * security written out) and release it asks for.
 */
export async function refuseUnrepairable(
  req: { cluster: string; topologyFile: string; store: PlanStore },
  meta: ClusterMeta,
  clusterDir: string,
  asked: { topology: Topology; version: string; variant: Variant; mirror?: string },
): Promise<void> {
  // A reconfigure cut off part way left configuration files and processes the metadata does
  // not describe: a repair from the metadata would write the old files back and restart nothing.
  const cutOff = await unfinishedApply(clusterDir);
  // One that wrote no configuration file (it changed members' options only, or stopped before)
  // left nothing a repair would miss.
  const cutPlan = cutOff?.state.operation === "reconfigure"
    ? (await req.store.load(cutOff.state.plan_path).catch(() => undefined))?.plan
    : undefined;
  // What the reconfigure does, whichever way it is reached.
  const rewrites = "every configuration written again, what is down started, the rest restarted";
  if (cutOff?.state.operation === "reconfigure" && wroteConfiguration(cutPlan, cutOff.state)) {
    throw new MupError(
      `cluster ${req.cluster} has an unfinished reconfigure (apply ${cutOff.state.state_id}, ` +
        `${cutOff.outcome}): its processes may run configurations the metadata does not ` +
        "record, which a repair would not restart",
      {
        hint: `\`mup plan resume ${req.cluster}\` completes it; or \`${await reconfigureCommand(
          req.cluster,
          cutPlan,
        )}\` replaces it (${rewrites})`,
      },
    );
  }
  // One a later stop, start or restart replaced left its files all the same: a repair would
  // write the recorded ones back over them without a word (tester110 #5).
  const replaced = cutOff?.state.operation === "reconfigure"
    ? undefined
    : await replacedReconfigureWrites(
      req.cluster,
      await replacedReconfigure(clusterDir),
      req.store,
    );
  if (replaced) {
    throw new MupError(
      `cluster ${req.cluster} has a reconfigure that did not finish (apply ` +
        `${replaced.state.state_id}, ${
          replacedOutcome(replaced.state)
        }), replaced by a later stop, start ` +
        "or restart after it wrote configuration files the metadata does not record: a repair " +
        "would write the recorded ones back over them",
      { hint: `\`${replaced.command}\` finishes it (${rewrites})` },
    );
  }
  // An existing cluster: deploy only repairs it. Every other change is refused here, before
  // planning, so that no apply ever records a cluster that is not what runs.
  const diff = clusterDifferences(
    meta,
    { topology: asked.topology, version: asked.version, variant: asked.variant },
    path.join(clusterDir, "deploy"),
    req.cluster,
    asked.mirror,
    req.topologyFile,
  );
  if (diff.length) {
    throw new MupError(
      `cluster ${req.cluster} is already deployed (${meta.kind}, ${meta.variant} ${meta.version}), and this differs from it:\n${
        diff.map(renderDifference).join("\n")
      }`,
      {
        hint:
          `cluster deploy on an existing cluster only repairs it: give it the recorded topology (\`mup cluster show-config ${req.cluster} > ${
            recordedTopologyPath(meta)
          }\` writes it where the cluster's hooks run) and --version ${meta.version}${
            asked.variant !== meta.variant ? ` --variant ${meta.variant}` : ""
          } to re-check it and restart what is down${
            new Set(diff.map((d) => d.command)).size > 1
              ? "; the changes listed are made one command at a time, each given the " +
                "recorded topology with only its own change"
              : ""
          }`,
      },
    );
  }
}
