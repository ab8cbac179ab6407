import * as path from "node:path";
import type { ExecutorFactory } from "../executor/executor.ts";
import type {
  CheckResult,
  Release,
  ResourceEstimate,
  ValidationIssue,
  ValidationResult,
} from "../plan/schema.ts";
import { sha256File } from "../util/file_hash.ts";
import { allocatePort, describeHolder } from "./ports.ts";
import { isLocalHost, type Topology } from "../topology/schema.ts";
import { hostKey, hostPort } from "../topology/hosts.ts";

/**
 * Replaces `port: 0` on local hosts by ports the OS reports free and not in `avoid`. Returns a
 * new topology.
 */
export function allocatePorts(t: Topology, avoid: Iterable<number> = []): Topology {
  // Ports other clusters hold are skipped even when their processes are stopped.
  const taken = new Set<number>(avoid);
  const fix = <T extends { host: string; port: number }>(s: T): T => {
    if (s.port !== 0 || !isLocalHost(s.host)) return s;
    let port = allocatePort(s.host);
    while (taken.has(port)) port = allocatePort(s.host);
    taken.add(port);
    return { ...s, port };
  };
  return {
    ...t,
    config_servers: t.config_servers.map(fix),
    mongod_servers: t.mongod_servers.map(fix),
    mongos_servers: t.mongos_servers.map(fix),
  };
}

export interface PreflightInput {
  topology: Topology;
  release: Release;
  resources: ResourceEstimate;
  deployDir: string;
  archivePath: string;
  executors: ExecutorFactory;
  /**
   * Ports the cluster itself holds (re-planning, or re-running a deploy that failed part way),
   * keyed `${hostKey(host)}:${port}`, each with the configuration file its process runs with:
   * busy with that process, the port is not in the way.
   */
  ownPorts?: Map<string, string>;
}

/** Pre-flight checks, separate from the pure planner: they read hosts and the cache. */
export async function preflight(
  input: PreflightInput,
): Promise<{ validation: ValidationResult; cached: boolean }> {
  const checks: CheckResult[] = [];
  const errors: ValidationIssue[] = [];
  const warnings: ValidationIssue[] = [];
  const timed = async (name: string, f: () => Promise<Omit<CheckResult, "name" | "duration">>) => {
    const t0 = performance.now();
    let r: Omit<CheckResult, "name" | "duration">;
    try {
      r = await f();
    } catch (e) {
      r = { status: "failed", message: (e as Error).message };
    }
    const c = { name, duration: Math.round(performance.now() - t0), ...r };
    checks.push(c);
    const issue = { code: name, message: c.message, ...(c.host ? { host: c.host } : {}) };
    if (c.status === "failed") errors.push({ ...issue, severity: "error" });
    if (c.status === "warning") warnings.push({ ...issue, severity: "warning" });
  };
  const t = input.topology;
  const all = [...t.config_servers, ...t.mongod_servers, ...t.mongos_servers];
  // One entry per machine (the first name the topology gives it), however many names it has.
  const machines = new Map<string, string>();
  for (const s of all) if (!machines.has(hostKey(s.host))) machines.set(hostKey(s.host), s.host);
  const hosts = [...machines.values()];

  await timed("connectivity", async () => {
    const bad: string[] = [];
    for (const h of hosts) {
      try {
        const r = await input.executors.forHost(h).run(["true"], { timeoutMs: 10_000 });
        if (r.code !== 0) bad.push(`${h} (${r.stderr.trim() || `exit ${r.code}`})`);
      } catch (e) {
        bad.push(`${h} (${(e as Error).message})`);
      }
    }
    return bad.length ? { status: "failed", message: `cannot reach ${bad.join(", ")}` } : {
      status: "passed",
      message: `Connectivity to all hosts (${hosts.length}/${hosts.length})`,
    };
  });

  const needGb = input.resources.disk_space_gb;
  await timed("disk_space", async () => {
    let minFree = Infinity;
    const low: string[] = [];
    for (const h of hosts) {
      const perHostGb = needGb *
        ((input.resources.processes_per_host[h] ?? 0) /
          Math.max(1, input.resources.total_processes));
      const free = await input.executors.forHost(h).freeDiskMb(input.deployDir);
      minFree = Math.min(minFree, free);
      if (free / 1024 < perHostGb) {
        low.push(`${h}: ${(free / 1024).toFixed(1)}GB free, ${perHostGb.toFixed(1)}GB needed`);
      }
    }
    return low.length
      ? { status: "failed", message: `not enough disk space: ${low.join("; ")}` }
      : {
        status: "passed",
        message: `Disk space available (${needGb}GB required, ${
          (minFree / 1024).toFixed(0)
        }GB available)`,
      };
  });

  await timed("ports", async () => {
    const busy: string[] = [];
    for (const s of all) {
      const ex = input.executors.forHost(s.host);
      if (await ex.portFree(s.port)) continue;
      const holder = await ex.portHolder?.(s.port).catch(() => undefined);
      const ownConfig = input.ownPorts?.get(`${hostKey(s.host)}:${s.port}`);
      // The cluster's own process (started with its own configuration file) is expected there.
      if (ownConfig !== undefined && (!holder?.command || holder.command.includes(ownConfig))) {
        continue;
      }
      busy.push(
        `${hostPort(s.host, s.port)}${holder ? ` (held by ${describeHolder(holder)})` : ""}`,
      );
    }
    return busy.length
      ? { status: "failed", message: `ports already in use: ${busy.join(", ")}`, details: { busy } }
      : {
        status: "passed",
        message: `All ports available (${all.length} ports on ${hosts.length} host${
          hosts.length === 1 ? "" : "s"
        })`,
      };
  });

  let cached = false;
  await timed("binaries", async () => {
    const r = input.release;
    if ((await sha256File(input.archivePath)) === r.sha256) {
      cached = true;
      return { status: "passed", message: `MongoDB ${r.version} binary available (cached)` };
    }
    // Not cached: check that it can be downloaded.
    if (/^https?:\/\//.test(r.url)) {
      const res = await fetch(r.url, { method: "HEAD" }).catch((e) => e as Error);
      if (res instanceof Error || !res.ok) {
        return {
          status: "failed",
          message: `MongoDB ${r.version} cannot be downloaded from ${r.url}: ${
            res instanceof Error ? res.message : `HTTP ${res.status}`
          }`,
        };
      }
    } else {
      const file = r.url.startsWith("file://") ? new URL(r.url).pathname : r.url;
      await Deno.stat(file).catch(() => {
        throw new Error(`MongoDB ${r.version} archive not found at ${r.url}`);
      });
    }
    return {
      status: "passed",
      message: `MongoDB ${r.version} binary available (download ${
        Math.ceil(r.size_bytes / 1e6)
      }MB from ${path.dirname(r.url)})`,
    };
  });

  return { validation: { valid: errors.length === 0, errors, warnings, checks }, cached };
}
