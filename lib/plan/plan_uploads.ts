/**
 * What a plan's `upload_file` operations copy to the hosts, checked against what mup uploads
 * itself. `upload_file` reads its `source` anywhere inside MUP_HOME (lib/ops/operation.ts
 * storeParam) and a `secret` from the cluster's secrets store; a plan is untrusted input (its
 * content hash is no signature), so an upload edited in a plan and sealed again could otherwise
 * copy another cluster's password, or this one's (`secret:admin`), to a host. The planners
 * upload only (prepare_steps.ts, tls.ts, security_steps.ts):
 *
 * - a process's staged configuration, `<store>/clusters/<cluster>/staging/<process>.conf`, to
 *   its configuration file (plan_configs.ts checks that the pair is the process's own);
 * - the keyfile (`secret:keyfile`) and the cluster CA (`secret:ca`) to every machine of the
 *   topology, at `<deploy root>/secrets/keyfile` and `…/ca.pem`;
 * - each process's certificate (`secret:cert:<process>`) to its machine, at
 *   `<deploy root>/secrets/<process>.pem`.
 *
 * The sibling of plan_paths.ts and plan_configs.ts, in their style: pure, each problem a
 * validation error (code `plan_upload`) naming the operation, the parameter and the fix.
 */
import { allowedTopology } from "./added_entries.ts";
import { TLS_STEPS } from "./mongo_config.ts";
import * as path from "node:path";
import { hostKey } from "../topology/hosts.ts";
import {
  certRef,
  hostCaPath,
  hostCertPath,
  hostKeyfilePath,
  SECRET,
} from "../security/settings.ts";
import { configFilePath } from "./mongo_config.ts";
import { listProcesses } from "./processes.ts";
import { remakeFix } from "./plan_paths.ts";
import type { Plan, PlannedOperation, ValidationIssue } from "./schema.ts";

/**
 * Every upload of `plan` that is not one mup makes, as validation errors (code `plan_upload`):
 * a secret other than the keyfile, the CA and the certificates of the topology's processes, or
 * uploaded elsewhere than its place or to a machine the topology does not place it on; a
 * `source` beside a `secret`; a `source` uploaded to anything but a process's configuration
 * file, or (when `storeRoot`, $MUP_HOME/storage, is given) that lies in this store but is not
 * the cluster's own staged configuration of that process. Uploads of binaries are
 * plan_paths.ts's.
 */
export function planUploadIssues(
  plan: Plan,
  opts: { storeRoot?: string } = {},
): ValidationIssue[] {
  const uploads = plan.phases.flatMap((p) => p.operations).filter((o) =>
    o.type === "upload_file" && o.target.params.kind !== "binaries"
  );
  if (!uploads.length) return [];
  const issues: ValidationIssue[] = [];
  const fix = remakeFix(plan);
  const error = (o: PlannedOperation, message: string) =>
    issues.push({
      code: "plan_upload",
      severity: "error",
      message: `operation ${o.id} (upload_file): ${message}. ${fix}`,
      ...(o.target.host ? { host: o.target.host } : {}),
    });

  const root = plan.topology.global.deploy_dir ?? plan.deploy_dir;
  const procs = listProcesses(plan.topology, plan.deploy_dir);
  const machines = new Set(procs.map((p) => hostKey(p.host)));
  const configAt = new Map(procs.map((p) => [`${hostKey(p.host)} ${configFilePath(p)}`, p]));
  // Each secret mup uploads: where it goes, and to which machines (undefined: every one).
  const secrets = new Map<string, { dest: string; machine?: string; what: string }>([
    [SECRET.keyfile, { dest: hostKeyfilePath(root), what: "the keyfile" }],
    [SECRET.ca, { dest: hostCaPath(root), what: "the cluster CA certificate" }],
    ...procs.map((p) =>
      [certRef(p.id), {
        dest: hostCertPath(root, p.id),
        machine: hostKey(p.host),
        what: `the certificate of ${p.id}`,
      }] as const
    ),
  ]);
  const staging = opts.storeRoot
    ? path.posix.join(opts.storeRoot, "clusters", plan.cluster_name, "staging")
    : undefined;
  // A source outside this MUP_HOME is another store's plan's (store.ts otherStoreIssue says
  // so; storeParam refuses to read it): only sources in this store are held to its staging.
  const home = opts.storeRoot ? path.posix.dirname(norm(opts.storeRoot)) : undefined;
  const inStore = (p: string) => home !== undefined && (p === home || p.startsWith(`${home}/`));

  for (const o of uploads) {
    const { secret, source, dest, mode } = o.target.params;
    // Secrets are installed readable by their owner only, configurations writable by it only:
    // a looser mode (or none: upload_file's default is 0644) would expose them on the host.
    const want = secret !== undefined ? "0400" : "0600";
    if (mode !== want) {
      error(
        o,
        `parameter "mode" is ${JSON.stringify(mode ?? "(none: 0644)")}; mup installs ` +
          `${secret !== undefined ? "a secret" : "a configuration file"} with mode ${want}`,
      );
    }
    const machine = hostKey(o.target.host ?? "");
    const at = `${o.target.host ?? "no host"}:${dest ?? ""}`;
    if (secret !== undefined) {
      if (source !== undefined) {
        error(
          o,
          `parameter "source" is ${JSON.stringify(source)} beside the secret ` +
            `${JSON.stringify(secret)}; mup uploads a secret from the cluster's secrets store only`,
        );
      }
      // A configuration file written from a secret is plan_configs.ts's to name.
      if (configAt.has(`${machine} ${norm(dest)}`)) continue;
      const s = secrets.get(secret);
      if (!s) {
        error(
          o,
          `parameter "secret" is ${JSON.stringify(secret)}, which mup never uploads: it uploads ` +
            `the keyfile, the cluster CA certificate and each process's own certificate; the ` +
            `admin password stays on this machine`,
        );
      } else if (norm(dest) !== s.dest) {
        error(
          o,
          `parameter "dest" is ${JSON.stringify(dest ?? "")}; mup installs ${s.what} at ${s.dest}`,
        );
      } else if (s.machine ? machine !== s.machine : !machines.has(machine)) {
        error(
          o,
          `it installs ${s.what} on ${o.target.host ?? "no host"}, ` +
            (s.machine
              ? "which is not that process's host"
              : "which is no host of this plan's topology"),
        );
      }
      continue;
    }
    const p = configAt.get(`${machine} ${norm(dest)}`);
    if (!p) {
      error(
        o,
        `parameter "source" is ${JSON.stringify(source ?? "")}, uploaded to ${at}, which is no ` +
          `process's configuration file; mup uploads files only to a process's configuration ` +
          `file (from its staged configuration) and the cluster's own secrets to their places`,
      );
    } else if (
      staging && inStore(norm(source)) &&
      !stagedNames(p.id).some((n) => norm(source) === path.posix.join(staging, n))
    ) {
      error(
        o,
        `parameter "source" is ${JSON.stringify(source ?? "")}; the configuration of ${p.id} ` +
          `is uploaded from the cluster's staged ${path.posix.join(staging, `${p.id}.conf`)}`,
      );
    }
  }
  return issues;
}

/** A path with `.`, `..` and repeated slashes resolved, lexically ("" for none). */
function norm(p: string | undefined): string {
  return p ? path.posix.normalize(p) : "";
}

/**
 * planUploadIssues against the cluster as recorded in its metadata: the topology and deploy
 * root it records say which machines, processes and places the uploads may name, so a plan
 * whose topology was edited along with its uploads is refused too. Pure.
 */
export function recordedUploadIssues(
  plan: Plan,
  recorded: Pick<Plan, "topology" | "deploy_dir">,
  opts: { storeRoot?: string } = {},
): ValidationIssue[] {
  const asRecorded: Plan = {
    ...plan,
    topology: allowedTopology(plan, recorded.topology),
    deploy_dir: recorded.deploy_dir,
  };
  return planUploadIssues(asRecorded, opts).map((i) => ({
    ...i,
    message: `cluster ${plan.cluster_name} as recorded in its metadata: ${i.message}`,
  }));
}

/**
 * The names a process's configuration is staged under: `<id>.conf`, and for each round of a TLS
 * switch `<id>-<tlsMode>.conf` (op_builders.ts rewriteConfigOps).
 */
function stagedNames(id: string): string[] {
  return [`${id}.conf`, ...TLS_STEPS.map((m) => `${id}-${m}.conf`)];
}
