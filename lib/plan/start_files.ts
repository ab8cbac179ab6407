/**
 * The files a process's start needs on its host, and the guard that keeps a restart from
 * stopping a process its start would fail on. A start reads the process's configuration file,
 * runs the release's binary, and (as the configuration names them) reads the cluster's keyfile
 * and the process's TLS certificate and the CA: mongod/mongos exit at start when one is gone
 * ("error getting file …"). Pure: which files, found on the hosts by lib/preflight/start_files.ts.
 */
import type { ClusterMeta } from "../state/meta.ts";
import type { Plan } from "./schema.ts";
import type { ProcessSpec } from "./processes.ts";
import { configFilePath } from "./mongo_config.ts";
import { binaryPath, recordedSha256 } from "./lifecycle_ops.ts";
import { check } from "./op_builders.ts";
import { hostCaPath, hostCertPath, hostKeyfilePath, securityOf } from "../security/settings.ts";

/** One file a process's start reads on its host. */
export interface StartFile {
  /** The process ID. */
  process: string;
  host: string;
  /** The path on the host. */
  path: string;
  /** What it is: "configuration file", "binary", "keyfile", "TLS certificate", "CA certificate". */
  what: string;
  /** The sha256 it must have (a binary, as the deploy installed it), when recorded. */
  sha256?: string;
}

/**
 * The files each of `procs` needs to start, as the recorded cluster `meta` runs it: its recorded
 * configuration file, the release's binary, and, when the cluster uses them, the keyfile
 * (security.keyFile) and its certificate and the CA (net.tls), at the paths the deploy wrote
 * into its configuration (under the topology's deploy_dir, else `deployDir`).
 */
export function startFiles(
  meta: ClusterMeta,
  procs: ProcessSpec[],
  deployDir: string,
): StartFile[] {
  const root = meta.topology.global.deploy_dir ?? deployDir;
  const security = securityOf(meta.topology);
  const recorded = new Map(meta.processes.map((p) => [p.id, p.config]));
  return procs.flatMap((p) => {
    const f = (what: string, file: string, sha256?: string): StartFile => ({
      process: p.id,
      host: p.host,
      path: file,
      what,
      ...(sha256 ? { sha256 } : {}),
    });
    const binary = binaryPath(meta, p);
    return [
      f("configuration file", recorded.get(p.id) ?? configFilePath(p)),
      f("binary", binary, recordedSha256(meta, p.host, binary)),
      ...(security.auth ? [f("keyfile", hostKeyfilePath(root))] : []),
      ...(security.tls
        ? [f("TLS certificate", hostCertPath(root, p.id)), f("CA certificate", hostCaPath(root))]
        : []),
    ];
  });
}

/**
 * Gives the stop of each process `plan` also starts again (a restart) a safety check
 * `files_present` (lib/apply/safety.ts): when the stop runs, the files its start needs are
 * still on its host. A plan saved earlier and applied after one was deleted then stops before
 * the process is stopped, rather than leaving it down. Mutates `plan`.
 */
export function guardStops(plan: Pick<Plan, "phases">, files: StartFile[], repair: string): void {
  const ops = plan.phases.flatMap((ph) => ph.operations);
  const started = new Set(
    ops.filter((o) => o.type === "start_process").map((o) => o.target.name),
  );
  for (const o of ops) {
    if (o.type !== "stop_process" || !started.has(o.target.name)) continue;
    if (o.pre_conditions.some((c) => c.check_type === "files_present")) continue;
    const mine = files.filter((f) => f.process === o.target.name);
    if (!mine.length) continue;
    o.pre_conditions.push(
      check(
        `${o.id}:start-files`,
        "files_present",
        `${mine[0].host}`,
        "the files its start needs are in place",
        {
          host: mine[0].host,
          process: o.target.name,
          files: mine.map((f) => ({
            path: f.path,
            what: f.what,
            ...(f.sha256 ? { sha256: f.sha256 } : {}),
          })),
          repair,
        },
      ),
    );
  }
}

/**
 * The message for a start file found with another checksum than the one recorded (a binary
 * replaced since the deploy): host, path, process, both checksums, and the repair.
 */
export function changedMessage(f: StartFile, actual: string, repair: string): string {
  return `${f.what} ${f.host}:${f.path} of ${f.process} is not the one mup installed (sha256 ` +
    `${actual.slice(0, 12)}…, installed ${f.sha256?.slice(0, 12)}…): mup does not run a ` +
    `binary it did not install. Install it again with \`${repair}\` (a repair), then plan again`;
}

/** The message for a start file found missing: host, path, process, and the repair. */
export function missingMessage(f: StartFile, repair: string): string {
  return `${f.what} ${f.host}:${f.path} of ${f.process} is missing: the process cannot start ` +
    `without it. Install it again with \`${repair}\` (a repair), then plan again`;
}
