/**
 * `mup cluster upgrade <name> --version <v>`: the server binaries replaced on a running cluster
 * without taking it down, as MongoDB's upgrade procedures do it (MongoDB manual: "Upgrade a
 * Replica Set", "Upgrade a Sharded Cluster"), planned like a rolling restart (restart.ts) whose
 * starts run the new binary. Pure.
 *
 * install the release on every host → (sharded) stop the balancer → config servers, then each
 * shard, one after another, or the replica set (secondaries one at a time, then the
 * stepped-down primary), then each mongos → (sharded) start the balancer → verify health → (with --set-fcv) raise the feature
 * compatibility version → record the new release in the metadata, last, so that it never claims
 * what the cluster is not.
 *
 * A major upgrade goes one release series at a time (6.0 → 7.0 → 8.0) and needs the FCV of the
 * series it leaves; the FCV is raised only when asked, since it cannot be lowered again with the
 * binaries. Processes that already run the new release (an earlier upgrade stopped part way) are
 * not restarted again.
 */
import { runtimeOptionIssues } from "../topology/runtime_options.ts";
import { hostKey, hostPort } from "../topology/hosts.ts";
import { cmpVersion, majorMinor } from "../download/manifest.ts";
import type { ReplicaSetSpec } from "./processes.ts";
import type { Plan, Release, ValidationIssue } from "./schema.ts";
import {
  balancerOp,
  fcvOps,
  guardFcv,
  installOps,
  oneAfterAnother,
  onNewRelease,
} from "./upgrade_ops.ts";
import { clusterProcesses, lifecyclePlan, type LifecyclePlanInput } from "./lifecycle.ts";
import { markedPhases, metadataOp, verifyOp } from "./lifecycle_ops.ts";
import { removedMemberErrors } from "./recorded.ts";
import { recordedTopologyPath } from "./command_of.ts";
import { rollEach, rollSet, singleMongosWarnings } from "./restart.ts";
import { downWhileRestartedWarnings, majorityWarnings, priorityNotes } from "./restart_warnings.ts";
import { membersPhase } from "./phase_names.ts";

/** The release series each one upgrades to (MongoDB's supported upgrade paths). */
export const NEXT_SERIES: Record<string, string> = {
  "4.4": "5.0",
  "5.0": "6.0",
  "6.0": "7.0",
  "7.0": "8.0",
  "8.0": "8.2",
};

export interface UpgradePlanInput extends LifecyclePlanInput {
  /** The release to run (resolved from --version). */
  release: Release;
  /** mup's download cache on the control machine. */
  cacheDir: string;
  /** The release's archive is in the cache already. */
  cached: boolean;
  /**
   * Remote hosts whose architecture needs another build of the release than `release` (the
   * control machine's), from their probe; each such build is downloaded and installed on them.
   */
  hostReleases?: Record<string, Release>;
  /** The platforms of `hostReleases` whose archive is in the cache with its sha256. */
  cachedPlatforms?: string[];
  /** --set-fcv: raise the feature compatibility version to the new series at the end. */
  setFcv: boolean;
  /** Each data-bearing member's featureCompatibilityVersion as read before planning, by ID. */
  fcvs: Record<string, string>;
  /** The version each running process reports (buildInfo), by process ID. */
  versions: Record<string, string>;
  /** A sharded cluster's balancer mode (balancerStatus) before planning; undefined: unread. */
  balancer?: string;
}

/** The one FCV every member that answered reports (undefined: none answered, or they differ). */
function clusterFcv(input: UpgradePlanInput): string | undefined {
  const seen = new Set(Object.values(input.fcvs));
  return seen.size === 1 ? [...seen][0] : undefined;
}

/** Why the asked release cannot replace the recorded one (empty: it can). */
function releaseErrors(input: UpgradePlanInput): ValidationIssue[] {
  const name = input.meta.name;
  const from = input.meta.version, to = input.release.version;
  const refuse = (code: string, message: string): ValidationIssue[] => [
    { code, severity: "error", message },
  ];
  if (input.release.variant !== input.meta.variant) {
    return refuse(
      "variant_switch",
      `cluster ${name} runs ${input.meta.variant} ${from}; ${input.release.variant} ${to} is a ` +
        "switch of server distribution, which mup cannot do yet (upgrade within " +
        `${input.meta.variant}: \`--variant ${input.meta.variant}\`)`,
    );
  }
  if (cmpVersion(to, from) < 0) {
    return refuse(
      "downgrade",
      `${to} is older than ${from}, which cluster ${name} runs: that is a downgrade, which mup ` +
        "cannot do yet",
    );
  }
  const a = majorMinor(from), b = majorMinor(to);
  if (a !== b && NEXT_SERIES[a] !== b) {
    return refuse(
      "skips_series",
      `${from} → ${to} skips a release series: MongoDB upgrades one series at a time${
        NEXT_SERIES[a]
          ? ` (${a} → ${NEXT_SERIES[a]} first: \`mup cluster upgrade ${name} ` +
            `--version ${NEXT_SERIES[a]} --set-fcv\`)`
          : ""
      }`,
    );
  }
  // The new binaries would refuse the configuration mup writes for them (an option the new
  // series no longer knows, storage.journal.enabled in 6.1): every member would stop at its
  // restart, one after another, and the upgrade with it.
  const gone = runtimeOptionIssues(input.meta.topology, input.meta.variant, to)
    .filter((i) => i.code === "option_removed");
  if (gone.length) {
    const keys = [...new Set(gone.map((i) => i.message.split(" ")[0]))];
    return refuse(
      "option_removed",
      `the runtime_config of cluster ${name} sets ${keys.join(", ")}, which ${to} no longer ` +
        `knows (${gone[0].message.replace(/^\S+ is not a /, "not a ")}): every member would ` +
        "refuse to start on the new binary. Remove it first, without stopping the cluster: " +
        `\`mup cluster show-config ${name} > ${recordedTopologyPath(input.meta)}\`, delete it ` +
        `there, \`mup cluster reconfigure ${name} ${recordedTopologyPath(input.meta)}\`; then ` +
        "upgrade",
    );
  }
  const seen = [...new Set(Object.values(input.fcvs))].sort();
  // Raising the FCV within the series the cluster runs (`--set-fcv`) is how they agree again.
  if (seen.length > 1 && a !== b) {
    const who = seen.map((v) =>
      `${v} on ${Object.keys(input.fcvs).filter((id) => input.fcvs[id] === v).join(", ")}`
    );
    return refuse(
      "fcv_differs",
      `the members of cluster ${name} report different feature compatibility versions ` +
        `(${who.join("; ")}): a setFeatureCompatibilityVersion did not finish. Run it again ` +
        `(\`mup cluster upgrade ${name} --version ${from} --set-fcv\` when it raises the FCV ` +
        `to ${a}), then plan the upgrade again`,
    );
  }
  const fcv = clusterFcv(input);
  // The old series' FCV, or already the new one's (raised by hand once every member ran it).
  if (a !== b && fcv !== a && fcv !== b) {
    return refuse(
      // Unread is a code of its own: where mup could not log in at all (its CA or admin
      // credentials lost), lifecycle_build gives that cause alone.
      fcv === undefined ? "fcv_unread" : "fcv_mismatch",
      fcv === undefined
        ? `the feature compatibility version of cluster ${name} could not be read: an upgrade ` +
          `to ${b} needs it to be ${a} (see \`mup cluster display ${name}\`)`
        : `the feature compatibility version of cluster ${name} is ${fcv}: an upgrade to ` +
          `${b} needs ${a} first (\`mup cluster upgrade ${name} --version ${from} --set-fcv\`)`,
    );
  }
  return [];
}

/** Pure: the `cluster upgrade` Plan (no operations when the cluster already is what is asked). */
export function planUpgrade(input: UpgradePlanInput): Omit<Plan, "content_hash"> {
  // Rolled by the priorities the sets hold now, as a restart is (tester40 H1).
  const { procs, sets } = clusterProcesses(input);
  const name = input.meta.name;
  const to = input.release.version;
  const series = majorMinor(to);
  const errors: ValidationIssue[] = procs.filter((p) => !input.facts[p.id]?.running).map((p) => ({
    code: "not_running",
    severity: "error",
    host: p.host,
    message: `${
      hostPort(p.host, p.port)
    } is not running: a rolling upgrade needs every process up (run \`${
      input.startCommand ?? `mup cluster start ${name}`
    }\` first)`,
  }));
  // A member its set no longer lists would never come back as its secondary.
  errors.push(...removedMemberErrors(input.meta, procs, input.facts, "a rolling upgrade"));
  const refused = releaseErrors(input);
  // Members an unfinished upgrade moved past the asked release would be taken back down.
  for (const p of procs) {
    const v = input.versions[p.id];
    if (refused.length || !v || cmpVersion(v, to) <= 0) continue;
    refused.push({
      code: "member_newer",
      severity: "error",
      host: p.host,
      message: `${hostPort(p.host, p.port)} runs ${v}, newer than ${to}: an upgrade that did ` +
        `not finish moved it there. Finish it (\`mup plan resume ${name}\`), or go back to ` +
        `the recorded ${input.meta.version} with \`mup cluster restart ${name}\` first`,
    });
  }
  errors.push(...refused);
  // What an earlier, interrupted upgrade already moved to the new release stays as it is.
  const toRoll = procs.filter((p) => input.versions[p.id] !== to);
  const fcvNow = clusterFcv(input);
  // A balancer someone else stopped stays off: mup neither stops nor starts it. One an earlier,
  // unfinished upgrade stopped is started again, even when nothing is left to restart.
  // A record of ours with the balancer seen running is stale (someone started it since).
  const ours = !!input.meta.balancer_stopped_by && input.balancer !== "full";
  const raiseFcv = input.setFcv && fcvNow !== series;
  // The plan says the release it installs and runs (its paths are checked against it).
  const upgradePlan = (
    ...args: Parameters<typeof lifecyclePlan> extends [unknown, unknown, ...infer R] ? R : never
  ) => ({
    ...lifecyclePlan(input, "upgrade", ...args),
    version: to,
    variant: input.release.variant,
    release: input.release,
  });
  if (!errors.length && !toRoll.length && !raiseFcv && input.meta.version === to && !ours) {
    return upgradePlan([]);
  }
  // A release this cluster cannot go to has no plan to show, only the reason.
  if (refused.length) return upgradePlan([], { errors });
  // The rolling part is a restart whose starts run the new binaries.
  const target: LifecyclePlanInput = {
    ...input,
    meta: { ...input.meta, version: to, variant: input.release.variant, binaries: [] },
  };
  const cfgSet = sets.find((s) => s.configsvr);
  const inSet = (s: ReplicaSetSpec) => toRoll.filter((p) => p.replicaSet === s.name);
  const routers = procs.filter((p) => p.role === "mongos");
  const balancerOn = input.balancer !== "off" || ours;
  const sharded = input.meta.kind === "sharded" && toRoll.length > 0 && balancerOn;
  const hosts = [...new Map(toRoll.map((p) => [hostKey(p.host), p.host])).values()];
  // The release is recorded once every process runs it, before the FCV is raised: an apply cut
  // off between the two leaves metadata that names the binaries the members run.
  const verify = verifyOp(input, []);
  const record = metadataOp(input, "auto", [verify.id]);
  record.description = `Record ${input.release.variant} ${to} as the cluster's release`;
  record.target.params.release = JSON.stringify(input.release);
  record.changes = record.changes.map((c) => ({
    ...c,
    before: { version: input.meta.version },
    after: { version: to },
  }));
  // The FCV the data is at, as read now: recorded with the release (a deploy onto this data
  // once a destroy retained it checks the release against it), and again once raised.
  if (fcvNow) record.target.params.fcv = fcvNow;
  const fcv = raiseFcv ? fcvOps(input, series, fcvNow, record.id) : [];
  // Installing changes no process: it goes before the mark that says the cluster is changing,
  // so a download that fails leaves the recorded status as it was. Nothing to install when
  // every process runs the release already (an FCV-only plan).
  const install = {
    name: "install",
    description: `The ${to} binaries on every host`,
    ops: onNewRelease(input, hosts.length ? installOps(input, hosts) : []),
  };
  const phases = [
    {
      name: "stop-balancer",
      description: "Stop the balancer",
      ops: sharded ? [balancerOp(input, "stop", routers)] : [],
    },
    {
      name: "upgrade-config",
      description: "Config servers: secondaries one at a time, then the stepped-down primary",
      ops: cfgSet ? rollSet(target, cfgSet, inSet(cfgSet), cfgSet) : [],
    },
    {
      name: membersPhase("upgrade", input.meta.kind),
      description: "Each replica set: secondaries one at a time, then the stepped-down primary",
      // One shard after another, as MongoDB's procedure upgrades them.
      ops: oneAfterAnother([
        ...sets.filter((s) => !s.configsvr).map((s) => rollSet(target, s, inSet(s), cfgSet)),
        rollEach(target, toRoll.filter((p) => p.role === "mongod" && !p.replicaSet)),
      ]),
    },
    {
      name: "upgrade-mongos",
      description: "mongos, one at a time",
      ops: rollEach(target, toRoll.filter((p) => p.role === "mongos"), cfgSet),
    },
    {
      name: "start-balancer",
      description: "Start the balancer again",
      ops: sharded || ours ? [balancerOp(input, "start", routers)] : [],
    },
    {
      name: "finalize",
      description: raiseFcv
        ? "Verify health, record the release, then raise the feature compatibility version"
        : "Verify health, then record the release in the metadata",
      ops: [verify, record, ...fcv],
    },
  ].map((ph) => ({ ...ph, ops: onNewRelease(input, ph.ops) }));
  guardFcv(phases.flatMap((ph) => ph.ops), procs, series);
  // What a rolling restart of the same processes warns of (restart.ts), the upgrade does too.
  const warnings: ValidationIssue[] = singleMongosWarnings(procs, toRoll);
  if (toRoll.length) warnings.push(...priorityNotes(input));
  warnings.push(...downWhileRestartedWarnings(procs, sets, toRoll));
  warnings.push(...majorityWarnings(procs, sets, toRoll, input.facts, false));
  if (input.meta.kind === "sharded" && toRoll.length && !balancerOn) {
    // Found off, and not by an upgrade of mup's.
    warnings.push({
      code: "balancer_off",
      severity: "warning",
      message: "The balancer is off, and stays off: the upgrade neither stops nor starts it.",
    });
  }
  if (!raiseFcv && fcvNow !== series && !errors.length) {
    warnings.push({
      code: "fcv_unchanged",
      severity: "warning",
      message: `The feature compatibility version stays ${fcvNow}: the ${series} features ` +
        `that need it stay off, and ${input.meta.version}'s binaries can still run on the data ` +
        "(going back is a downgrade, done by hand: mup cannot do it yet). " +
        `Raise it once the cluster runs well: \`mup cluster upgrade ${name} --version ${to} ` +
        "--set-fcv`",
    });
  }
  if (raiseFcv && !errors.length) {
    // The one step of an upgrade that cannot be undone by mup or by hand alone (tester48).
    warnings.push({
      code: "fcv_raised",
      severity: "warning",
      message: `The feature compatibility version goes from ${fcvNow} to ${series}: ${series} ` +
        "features then persist data that older binaries cannot read, and once it has changed " +
        "the binaries cannot go back to an older release without MongoDB's support (MongoDB " +
        "docs: setFeatureCompatibilityVersion). The FCV itself can be set back with the same " +
        "command, once those features' data is removed.",
    });
  }
  const plan = upgradePlan([install, ...markedPhases(input, phases)], { errors, warnings });
  plan.resources.download_size_mb = hosts.length ? Math.ceil(input.release.size_bytes / 1e6) : 0;
  return plan;
}
