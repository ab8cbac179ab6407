/**
 * The deploy's prepare phase: download each release once, install it on every machine, make the
 * directories, write and upload each process's configuration. Pure, like the planner that
 * assembles it: everything comes from the StepContext.
 */
import * as path from "node:path";
import { addressHost, hostKey } from "../topology/hosts.ts";
import { renderConfig } from "./mongo_config.ts";
import { DIR_MODE, processDirs } from "./processes.ts";
import type { PlannedOperation, Release } from "./schema.ts";
import {
  alsoNamed,
  installId,
  releaseUses,
  sameMachine,
  type StepContext,
} from "./deploy_steps.ts";
import { change, check, EST, op, processTarget, uploadConfigOp } from "./op_builders.ts";

/** The prepare phase's operations, in plan order. */
export function prepareOps(c: StepContext): PlannedOperation[] {
  const { input, procs, configDb, hosts, binDir, archive } = c;
  const r = input.release;
  const prepare: PlannedOperation[] = [];
  const releases = releaseUses(c);
  prepare.push(downloadOp(r, {
    cacheDir: input.cacheDir,
    archive,
    unpackedDir: c.unpackedDir,
    cached: input.cached,
  }));
  // Remote hosts of another architecture: their release, downloaded the same way.
  for (const u of releases.uses.slice(1)) {
    prepare.push(downloadOp(u.release, {
      cacheDir: input.cacheDir,
      archive: u.archive,
      unpackedDir: u.unpackedDir,
      cached: u.cached,
    }));
  }
  // Binaries each host needs, gathered in one pass (a filter per host is quadratic at scale).
  const rolesOf = new Map<string, Set<string>>();
  for (const p of procs) {
    const m = hostKey(p.host);
    const roles = rolesOf.get(m) ?? rolesOf.set(m, new Set()).get(m)!;
    roles.add(p.role === "mongos" ? "mongos" : "mongod");
  }
  for (const host of hosts) {
    const roles = rolesOf.get(hostKey(host))!;
    const { release: hr, downloadId: dl, archive: ar, unpackedDir } = releases.of(host);
    prepare.push(installOp(host, hr, {
      downloadId: dl,
      archive: ar,
      unpackedDir,
      binDir,
      files: [...roles].sort(),
    }, sameMachine(host, procs)));
  }
  for (const p of procs) {
    const dirs = processDirs(p);
    prepare.push(op({
      id: `mkdir-${p.id}`,
      type: "create_directory",
      description: `Create directories for ${p.id}`,
      target: {
        type: "host",
        name: p.host,
        host: p.host,
        port: p.port,
        params: { paths: JSON.stringify(dirs), mode: DIR_MODE },
      },
      pre_conditions: [
        check(
          `mkdir-${p.id}:disk`,
          "disk_space",
          p.host,
          "enough free disk for the data directory",
          { path: p.dirs.deploy, min_mb: p.role === "mongos" ? 10 : 100 },
        ),
      ],
      changes: dirs.map((d) => change("directory", `${addressHost(p.host)}:${d}`, "create")),
      depends_on: [],
      estimated_ms: EST.mkdir,
    }));
    const content = renderConfig(p, configDb, c.configSecurity(p));
    const staged = path.join(input.clusterDir, "staging", `${p.id}.conf`);
    prepare.push(op({
      id: `config-${p.id}`,
      type: "generate_config",
      description: `Generate configuration for ${p.id}`,
      target: processTarget(p, { content, staged_path: staged }),
      changes: [change("file", staged, "create")],
      depends_on: [],
      estimated_ms: EST.genConfig,
    }));
    prepare.push(uploadConfigOp(p, {
      id: `upload-config-${p.id}`,
      description: `Upload configuration of ${p.id}`,
      staged,
      action: "create",
      deps: [`config-${p.id}`, `mkdir-${p.id}`],
    }));
  }

  return prepare;
}

/**
 * `download-<variant>-<version>-<platform>`: the release's archive into the control machine's
 * cache, checked against its sha256 and unpacked into `unpackedDir`.
 */
export function downloadOp(
  r: Release,
  at: { cacheDir: string; archive: string; unpackedDir: string; cached: boolean },
): PlannedOperation {
  const id = `download-${r.variant}-${r.version}-${r.platform}`;
  return op({
    id,
    type: "download_binary",
    // Found in the cache by pre-flight: the review says so (the apply checks it again).
    description: `${at.cached ? "Use the cached" : "Download"} ${
      r.variant === "percona" ? "Percona Server for MongoDB" : "MongoDB"
    } ${r.version} for ${r.platform}${at.cached ? " (no download)" : ""}`,
    target: {
      type: "host",
      name: "control",
      host: "localhost",
      params: {
        url: r.url,
        sha256: r.sha256,
        archive: at.archive,
        size_bytes: String(r.size_bytes),
        variant: r.variant,
        version: r.version,
        extract_dir: at.unpackedDir,
      },
    },
    pre_conditions: [
      check(`${id}:cache`, "cache_writable", at.cacheDir, "binary cache is writable", {
        path: at.cacheDir,
      }),
    ],
    changes: [change("file", at.archive, at.cached ? "none" : "create")],
    depends_on: [],
    estimated_ms: at.cached ? EST.downloadCached : downloadEstimate(r.url, r.size_bytes),
  });
}

/**
 * The built-in estimate of a download (ms), before any was measured on this machine: by its
 * size, at 5 MB/s plus 2 s over HTTP(S), at 200 MB/s from a mirror on this machine (a copy),
 * EST.download when the size is unknown (0).
 */
export function downloadEstimate(url: string, sizeBytes: number): number {
  if (!sizeBytes) return EST.download;
  return /^https?:/i.test(url)
    ? Math.round(2_000 + sizeBytes / 5_000)
    : Math.max(500, Math.round(sizeBytes / 200_000));
}

/** `install-binaries-<machine>`: the unpacked release's `files` (mongod, mongos) into `binDir`. */
export function installOp(
  host: string,
  r: Release,
  at: { downloadId: string; archive: string; unpackedDir: string; binDir: string; files: string[] },
  aliases: string[] = [],
): PlannedOperation {
  return op({
    id: installId(host),
    type: "upload_file",
    description: `Install ${r.version} binaries on ${host}${alsoNamed(aliases)}`,
    target: {
      type: "host",
      name: host,
      host,
      params: {
        kind: "binaries",
        source_dir: path.join(at.unpackedDir, "bin"),
        dest_dir: at.binDir,
        files: at.files.join(","),
        sha256: r.sha256,
      },
    },
    pre_conditions: [
      check(
        `${installId(host)}:archive`,
        "archive_checksum",
        at.archive,
        "downloaded archive matches its sha256",
        { path: at.archive, sha256: r.sha256 },
      ),
    ],
    changes: [change("directory", `${addressHost(host)}:${at.binDir}`, "create")],
    depends_on: [at.downloadId],
    estimated_ms: EST.install,
  });
}

/**
 * A first deploy onto data kept by a `destroy --retain-data` (or an earlier attempt): the data
 * directories of `kept` (host and path, as pre-flight found them holding MongoDB data) are there
 * already, so their directory changes are "none" (the mkdir makes nothing of them), as the
 * apply records them. Changes `plan` in place.
 */
export function markKeptDataDirs(
  plan: { phases: { operations: PlannedOperation[] }[] },
  kept: { host: string; dir: string }[],
): void {
  const ids = new Set(kept.map((d) => `${addressHost(d.host)}:${d.dir}`));
  for (const o of plan.phases.flatMap((ph) => ph.operations)) {
    for (const c of o.changes) {
      if (c.resource_type === "directory" && ids.has(c.resource_id)) c.action = "none";
    }
  }
}
