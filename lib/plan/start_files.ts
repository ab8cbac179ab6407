/**
 * The files a process's start needs on its host, and the guard that keeps a restart from
 * stopping a process its start would fail on. A start reads the process's configuration file,
 * runs the release's binary, and (as the configuration names them) reads the cluster's keyfile
 * and the process's TLS certificate and the CA: mongod/mongos exit at start when one is gone
 * ("error getting file …"). Pure: which files, found on the hosts by lib/preflight/start_files.ts.
 */
import * as path from "node:path";
import type { ClusterMeta } from "../state/meta.ts";
import type { Plan } from "./schema.ts";
import { configDbString, listProcesses, listReplicaSets, type ProcessSpec } from "./processes.ts";
import { configFilePath, deployConfigSecurity, logFilePath, renderConfig } from "./mongo_config.ts";
import { binaryPath, recordedSha256 } from "./recorded.ts";
import { check } from "./op_builders.ts";
import { hostCaPath, hostCertPath, hostKeyfilePath, securityOf } from "../security/settings.ts";
import { sha256Hex } from "../util/hash.ts";

/** One file a process's start reads on its host. */
export interface StartFile {
  /** The process ID. */
  process: string;
  host: string;
  /** The path on the host. */
  path: string;
  /** What it is: "configuration file", "binary", "keyfile", "TLS certificate", "CA certificate". */
  what: string;
  /**
   * The sha256 it must have: a binary's as the deploy installed it (when recorded), a
   * configuration file's of `content`.
   */
  sha256?: string;
  /**
   * The content a configuration file must have: what mup generates for the process from the
   * recorded cluster (mongo_config.ts renderConfig, as the deploy and `cluster tls` wrote it).
   */
  content?: string;
}

/**
 * The configuration mup generates for each process of the recorded cluster `meta`, by process
 * ID: renderConfig with the recorded topology's security, as the deploy (and a repair, and the
 * last step of `cluster tls`) wrote it. `deployDir` is the default deploy root.
 */
export function recordedConfigs(meta: ClusterMeta, deployDir: string): Map<string, string> {
  const all = listProcesses(meta.topology, deployDir);
  const configDb = configDbString(listReplicaSets(all).find((s) => s.configsvr));
  const sec = deployConfigSecurity(meta.topology, meta.topology.global.deploy_dir ?? deployDir);
  return new Map(all.map((p) => [p.id, renderConfig(p, configDb, sec(p))]));
}

/**
 * The files each of `procs` needs to start, as the recorded cluster `meta` runs it: its recorded
 * configuration file (with the content mup generates for it: a configuration edited by hand,
 * its security removed, would start the process as the metadata does not say), the release's
 * binary, and, when the cluster uses them, the keyfile (security.keyFile) and its certificate
 * and the CA (net.tls), at the paths the deploy wrote into its configuration (under the
 * topology's deploy_dir, else `deployDir`).
 */
export function startFiles(
  meta: ClusterMeta,
  procs: ProcessSpec[],
  deployDir: string,
): StartFile[] {
  const root = meta.topology.global.deploy_dir ?? deployDir;
  const security = securityOf(meta.topology);
  const recorded = new Map(meta.processes.map((p) => [p.id, p.config]));
  const contents = recordedConfigs(meta, deployDir);
  return procs.flatMap((p) => {
    const f = (what: string, file: string, sha256?: string): StartFile => ({
      process: p.id,
      host: p.host,
      path: file,
      what,
      ...(sha256 ? { sha256 } : {}),
    });
    const binary = binaryPath(meta, p);
    const content = contents.get(p.id);
    const config = f("configuration file", recorded.get(p.id) ?? configFilePath(p));
    if (content !== undefined) Object.assign(config, { sha256: sha256Hex(content), content });
    return [
      config,
      f("binary", binary, recordedSha256(meta, p.host, binary)),
      // mongod and mongos exit at once when their log's directory is gone (tester61).
      f("log directory", path.dirname(logFilePath(p))),
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
 * still on its host, a binary and the configuration file with the sha256 each must have. A plan
 * saved earlier and applied after one was deleted or changed then stops before the process is
 * stopped, rather than leaving it down or starting it on another configuration. A configuration
 * the plan itself writes before the stop (`cluster tls`, in phase order) is expected with that
 * content, not the recorded one. Each start's `config_valid` check gets that sha256 too (a start
 * plan saved before the configuration was edited stops there). In a start plan, each start
 * gets the same check (`at: "start"`). Mutates `plan`.
 */
export function guardStops(
  plan: Pick<Plan, "phases" | "operation">,
  files: StartFile[],
  repair: string,
): void {
  const ops = plan.phases.flatMap((ph) => ph.operations);
  const started = new Set(
    ops.filter((o) => o.type === "start_process").map((o) => o.target.name),
  );
  // A start plan (nothing written before its starts) checks the same files at each start: one
  // saved before a file was replaced would otherwise start the process on it (tester37).
  const guarded = plan.operation === "start"
    ? ops.filter((o) => o.type === "start_process")
    : ops.filter((o) => o.type === "stop_process" && started.has(o.target.name));
  // The content each process's configuration has once the operations before have run.
  const written = new Map<string, string>();
  for (const o of ops) {
    if (o.type === "generate_config") {
      written.set(o.target.name, o.target.params.content ?? "");
      continue;
    }
    if (o.type === "start_process") {
      // Its config_valid check compares the content too (a start plan saved earlier).
      const config = files.find((f) => f.process === o.target.name && f.content !== undefined);
      const c = o.pre_conditions.find((c) => c.check_type === "config_valid");
      const now = written.get(o.target.name);
      if (config && c && c.params.sha256 === undefined) {
        c.params.sha256 = now !== undefined ? sha256Hex(now) : config.sha256;
        c.params.repair = repair;
        c.params.process = o.target.name;
      }
    }
    if (!guarded.includes(o)) continue;
    if (o.pre_conditions.some((c) => c.check_type === "files_present")) continue;
    const mine = files.filter((f) => f.process === o.target.name);
    if (!mine.length) continue;
    const now = written.get(o.target.name);
    o.pre_conditions.push(
      check(
        `${o.id}:start-files`,
        "files_present",
        `${mine[0].host}`,
        "the files its start needs are in place",
        {
          host: mine[0].host,
          process: o.target.name,
          files: mine.map((f) => {
            const sha256 = f.content !== undefined && now !== undefined ? sha256Hex(now) : f.sha256;
            return { path: f.path, what: f.what, ...(sha256 ? { sha256 } : {}) };
          }),
          repair,
          ...(o.type === "start_process" ? { at: "start" } : {}),
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
  const why = f.what === "binary"
    ? "mup does not run a binary it did not install"
    : f.what === "keyfile"
    ? "started on it, the member could not authenticate to the rest of its set"
    : "started on it, the process would not present the cluster's certificates";
  return `${f.what} ${f.host}:${f.path} of ${f.process} is not the one mup installed (sha256 ` +
    `${actual.slice(0, 12)}…, installed ${f.sha256?.slice(0, 12)}…): ${why}. Install it ` +
    `again with \`${repair}\` (a repair), then plan again`;
}

/**
 * The message for a configuration file whose content is not the one mup generates for its
 * process from the recorded cluster (edited by hand): host, path, process, the first differing
 * line when known, and the repair that writes it again.
 */
export function configChangedMessage(f: StartFile, repair: string, difference?: string): string {
  return `${f.what} ${f.host}:${f.path} of ${f.process} differs from the one mup generates for ` +
    `it from the recorded cluster${difference ? ` (${difference})` : ""}: started on it, the ` +
    `process would not run as the metadata records it. Write it again with ` +
    `\`${repair}\` (a repair), then plan again`;
}

/**
 * An unfinished apply (a reconfigure cut off or failed) that wrote configuration files the
 * metadata does not describe yet: `contents` by process ID, and `finish`, what finishes it
 * (`` `mup plan resume <cluster>` ``, or the failure's own replan when a resume alone cannot).
 */
export interface WrittenByUnfinished {
  operation: string;
  state_id: string;
  finish: string;
  contents: Map<string, string>;
}

/**
 * The message for a configuration file that `by` wrote (its content is the one that apply
 * writes for the process): host, path, process, and the command that finishes that apply.
 */
export function writtenByUnfinishedMessage(f: StartFile, by: WrittenByUnfinished): string {
  return `${f.what} ${f.host}:${f.path} of ${f.process} is the one the unfinished ` +
    `${by.operation} (apply ${by.state_id}) wrote, which the metadata does not record yet: ` +
    `started on it, the process would not run as recorded. Finish that ${by.operation} ` +
    `(${by.finish}), then plan again`;
}

/** The message for a start file found missing: host, path, process, and the repair. */
export function missingMessage(f: StartFile, repair: string): string {
  return `${f.what} ${f.host}:${f.path} of ${f.process} is missing: the process cannot start ` +
    `without it. ${
      f.what.endsWith("directory") ? "Make" : "Install"
    } it again with \`${repair}\` (a repair), then plan again`;
}
