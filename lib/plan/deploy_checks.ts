/**
 * The pre-flight checks of a deploy that look at the hosts' directories and the cluster's
 * secrets, after the general ones (lib/preflight/preflight.ts): data directories that already
 * hold data (kept by a destroy, someone else's, or a live mongod's), directories that cannot be
 * created, the user's own keyfile, settings a first deploy cannot run with (the localhost
 * exception off, default write concerns MongoDB would refuse). Each pushes its check and its
 * issues into `validation`. Not pure (it asks the hosts), like deploy.ts.
 */
import * as path from "node:path";
import type { ExecutorFactory } from "../executor/executor.ts";
import type { ClusterMeta } from "../state/meta.ts";
import type { Topology } from "../topology/schema.ts";
import { topologyKind } from "../topology/schema.ts";
import { hostKey } from "../topology/hosts.ts";
import { type ClusterClaims, strayClaims } from "../preflight/clusters.ts";
import { nodeClaims } from "../topology/layout.ts";
import { SECRET, securityOf } from "../security/settings.ts";
import { readAdmin, secretExists } from "../security/secrets.ts";
import { checkUserKeyfile } from "../preflight/keyfile.ts";
import { checkRetainedData } from "../preflight/retained.ts";
import { checkRecordedData, dataDirsInUse } from "../preflight/recorded_data.ts";
import { checkRetainedArchives } from "../preflight/retained_sets.ts";
import { checkChosenDirs, checkDirsCreatable, checkForeignData } from "../preflight/data_dirs.ts";
import { checkDataDirsFree, heldDataDirs } from "../preflight/data_held.ts";
import { listReplicaSets, type ProcessSpec } from "./processes.ts";
import { firstDeployImplicitDefault } from "./implicit_write_concern.ts";
import { defaultWriteConcernIssues } from "./default_write_concern.ts";
import type { CheckResult, Plan, Release, ValidationIssue } from "./schema.ts";

/** What deployDataChecks found that the plan itself uses. */
export interface DeployDataFacts {
  /** Data directories of a first deploy that already hold data (marked kept in the plan). */
  inUse: Awaited<ReturnType<typeof dataDirsInUse>>;
  /** The retained-data check of a first deploy onto a `destroy --retain-data` archive. */
  retained?: Awaited<ReturnType<typeof checkRetainedData>>;
  /** The data-directory check; a repair's says which members resync from their set. */
  dataDirs: { resync?: ReadonlyMap<string, string> };
}

/** Runs the checks above for `buildDeployPlan`; see there for the arguments. */
export async function deployDataChecks(a: {
  req: { cluster: string; topologyFile: string; executors: ExecutorFactory };
  meta: ClusterMeta | undefined;
  topology: Topology;
  procs: ProcessSpec[];
  release: Release;
  clusterDir: string;
  deployDir: string;
  own: ClusterClaims;
  validation: Plan["validation"];
}): Promise<DeployDataFacts> {
  const { req, meta, topology, procs, release, clusterDir, deployDir, own, validation } = a;
  // The data directories of a first deploy that already hold data (retained by a destroy, or
  // someone else's), listed once for both retained-data checks below.
  // A directory a live mongod of someone else holds is refused as such (data_dirs_free below):
  // no retained-data check offers to remove it.
  const heldT0 = performance.now();
  const unreached = new Set<string>();
  const held = await heldDataDirs(procs, req.executors, unreached);
  const heldMs = Math.round(performance.now() - heldT0);
  const heldKeys = new Set(held.map((h) => `${hostKey(h.proc.host)}:${h.proc.dirs.data}`));
  const inUse = meta
    ? []
    : (await dataDirsInUse(procs, req.executors)).filter((d) =>
      !heldKeys.has(`${hostKey(d.host)}:${d.dir}`)
    );
  // A first deploy onto data a `destroy --retain-data` kept needs the secrets it was made with.
  const retained = !meta && securityOf(topology).auth && !(await readAdmin(req.cluster))
    ? await checkRetainedData({
      cluster: req.cluster,
      procs,
      inUse,
      adminUser: securityOf(topology).adminUser,
      archiveRoot: path.join(path.dirname(path.dirname(clusterDir)), "archive"),
      executors: req.executors,
    })
    : undefined;
  // A first deploy must not take over a directory that holds someone else's files; a repair
  // must not start a standalone or a whole replica set whose data is gone (it would come back
  // as a new, empty database), and says which member will copy its data from its set.
  const dataDirs: {
    check: CheckResult;
    issues: ValidationIssue[];
    warnings?: ValidationIssue[];
    resync?: ReadonlyMap<string, string>;
  } = meta
    ? await checkRecordedData(procs, req.executors, {
      cluster: req.cluster,
      version: meta.version,
      variant: meta.variant,
      topologyFile: req.topologyFile,
      sharded: meta.kind === "sharded",
    })
    : await checkForeignData(procs, req.executors);
  validation.warnings.push(...(dataDirs.warnings ?? []));
  // Nor a deploy, log or config directory an entry names that holds someone else's files.
  const chosen = meta ? undefined : await checkChosenDirs(procs, req.executors, own.claims);
  // A file in the way or a read-only directory fails mid-apply (mkdir, mongod): refused here.
  const creatable = await checkDirsCreatable(procs, req.executors);
  // Nor a data directory another mongod runs on (another store's cluster, one run by hand).
  const free = checkDataDirsFree(held, heldMs, meta?.name, unreached);
  // What an earlier, unfinished first deploy holds that this topology drops would be nobody's.
  const stray = meta || !own.claims.length
    ? undefined
    : strayClaims(req.cluster, own, nodeClaims(topology, deployDir));
  for (
    const c of [dataDirs, ...(chosen ? [chosen] : []), creatable, free, ...(stray ? [stray] : [])]
  ) {
    validation.checks.push(c.check);
    if (c.issues.length) {
      validation.errors.push(...c.issues);
      validation.valid = false;
    }
  }
  if (retained) {
    validation.checks.push(retained.check);
    if (retained.issue.severity === "error") {
      validation.errors.push(retained.issue);
      validation.valid = false;
    } else validation.warnings.push(retained.issue);
  }
  // Retained data of another replica set (mongod would never join the planned one) or of a
  // release this one cannot start on (mongod would exit 62).
  const refusals = meta ? [] : await checkRetainedArchives({
    procs,
    inUse,
    version: release.version,
    archiveRoot: path.join(path.dirname(path.dirname(clusterDir)), "archive"),
    executors: req.executors,
  });
  for (const r of refusals) {
    validation.checks.push(r.check);
    validation.errors.push(r.issue);
    validation.valid = false;
  }
  // The user's own keyfile is copied mid-apply, once: checked here while it still will be.
  const sec = securityOf(topology);
  const keyfile = sec.auth && !(await secretExists(req.cluster, SECRET.keyfile))
    ? await checkUserKeyfile(sec.keyfile, req.topologyFile)
    : undefined;
  if (keyfile) {
    validation.checks.push(keyfile.check);
    if (keyfile.issue) {
      validation.errors.push(keyfile.issue);
      validation.valid = false;
    }
  }
  // mup creates the first user through the localhost exception (MongoDB manual: "Localhost
  // Exception"), which enableLocalhostAuthBypass: false turns off: the first deploy would stop
  // at the user's creation, every member already initiated.
  const noBypass = !meta && sec.auth
    ? procs.filter((p) => p.role !== "mongos" && bypassOff(p.runtimeConfig))
    : [];
  if (noBypass.length) {
    validation.errors.push({
      code: "localhost_exception_off",
      severity: "error",
      host: noBypass[0].host,
      message: `setParameter enableLocalhostAuthBypass: false (${
        noBypass.map((p) => p.id).join(", ")
      }) turns off the localhost exception, through which mup creates the cluster's first ` +
        "user: the deploy would stop there (createUser: Unauthorized). Leave it out of the " +
        `first deploy, then set it with \`mup cluster reconfigure ${req.cluster} <topology>\``,
    });
    validation.valid = false;
  }
  const dwcIssues = defaultWriteConcernIssues(
    topology,
    topologyKind(topology),
    listReplicaSets(procs),
    release.version,
  );
  if (dwcIssues.length) {
    validation.errors.push(...dwcIssues);
    validation.valid = false;
  }
  if (!meta) {
    const implicit = firstDeployImplicitDefault(req.cluster, topology, procs, release.version);
    validation.warnings.push(...implicit.warnings);
    validation.errors.push(...implicit.errors);
    if (implicit.errors.length) validation.valid = false;
  }
  return { inUse, retained, dataDirs };
}

/** Whether a process's runtime_config turns the localhost exception off (false, "false", 0). */
function bypassOff(rc: Record<string, unknown>): boolean {
  const v = (rc.setParameter as Record<string, unknown> | undefined)?.enableLocalhostAuthBypass;
  return v === false || v === "false" || v === 0 || v === "0";
}
