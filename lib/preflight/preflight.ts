import { formatArchiveSize, plural } from "../util/format.ts";
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
import { executorKey } from "../executor/factory.ts";
import { connectivityCheck } from "./connectivity.ts";
import PQueue from "p-queue";

/** Hosts asked at once during pre-flight. */
const PREFLIGHT_CONCURRENCY = 16;

/**
 * Replaces `port: 0` on local hosts by ports free now, not in `avoid` and not given in the
 * topology (allocatePort: between 27017 and the ephemeral range, one cluster's next to each
 * other where they are free). Returns a new topology.
 */
export function allocatePorts(
  t: Topology,
  avoid: Iterable<number> = [],
  /** Where to look first (a grown cluster's next port); else where the first one is found. */
  from?: number,
): Topology {
  // Ports other clusters hold are skipped even when their processes are stopped.
  const taken = new Set<number>(avoid);
  for (const s of [...t.config_servers, ...t.mongod_servers, ...t.mongos_servers]) {
    if (s.port !== 0) taken.add(s.port);
  }
  let next: number | undefined = from;
  const fix = <T extends { host: string; port: number }>(s: T): T => {
    if (s.port !== 0 || !isLocalHost(s.host)) return s;
    const port = allocatePort(s.host, taken, next);
    taken.add(port);
    next = port + 1;
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
  /**
   * Ports other clusters under this $MUP_HOME record, keyed `${hostKey(host)}:${port}`, each
   * with its cluster's name: a busy one names the cluster whose process holds it (tester51).
   */
  otherPorts?: Map<string, string>;
  /**
   * The release for another Linux architecture (`uname -m`, normalised: x86_64, aarch64), for
   * remote hosts that are not the control machine's; throws when there is none.
   */
  resolveFor?: (arch: string) => Promise<Release>;
}

/** Pre-flight checks, separate from the pure planner: they read hosts and the cache. */
export async function preflight(
  input: PreflightInput,
): Promise<{
  validation: ValidationResult;
  cached: boolean;
  /** Remote hosts that need another architecture's release, and that release. */
  hostReleases: Record<string, Release>;
  /** The platforms of `hostReleases` whose archive is in the cache with its sha256. */
  cachedPlatforms: string[];
  /**
   * `${hostKey(host)}:${port}` of the ports `ownPorts` names that a process runs on with the
   * cluster's own configuration file (its command line says so): servers already running.
   */
  ownRunning: Set<string>;
}> {
  const ownRunning = new Set<string>();
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
  // One entry per machine (the first name the topology gives it), however many names it has;
  // each SSH host is its own entry, since each is reached (and can fail) on its own.
  const machines = new Map<string, string>();
  for (const s of all) {
    if (!machines.has(executorKey(s.host))) machines.set(executorKey(s.host), s.host);
  }
  const hosts = [...machines.values()];

  // Every host is asked at once (bounded), so 50 hosts take about as long as the slowest few.
  const queue = new PQueue({ concurrency: PREFLIGHT_CONCURRENCY });
  const perHost = <T>(f: (h: string) => Promise<T>) =>
    Promise.all(hosts.map((h) => queue.add(() => f(h)))) as Promise<T[]>;
  const unreachable = new Set<string>();
  const hostReleases: Record<string, Release> = {};

  await timed("connectivity", async () => {
    const { result, lost } = await connectivityCheck(t, hosts, input.executors, perHost);
    for (const h of lost) unreachable.add(executorKey(h));
    return result;
  });
  const reachable = hosts.filter((h) => !unreachable.has(executorKey(h)));

  // Only hosts that can say (remote ones): the local release was resolved for this machine.
  const described = reachable.filter((h) => input.executors.forHost(h).platform !== undefined);
  if (described.length) {
    await timed("os_arch", async () => {
      const want = input.release.platform.split("-")[1] ?? "";
      const wrong: string[] = [];
      // One resolution per architecture, however many hosts share it.
      const byArch = new Map<string, Promise<Release>>();
      await Promise.all(described.map((h) =>
        queue.add(async () => {
          const { os, arch } = await input.executors.forHost(h).platform!();
          const norm = arch === "arm64" ? "aarch64" : arch === "amd64" ? "x86_64" : arch;
          if (os !== "Linux") wrong.push(`${h} runs ${os}, not Linux`);
          else if (want && norm !== want) {
            if (!input.resolveFor) return void wrong.push(`${h} is ${os} ${arch}`);
            if (!byArch.has(norm)) byArch.set(norm, input.resolveFor(norm));
            try {
              hostReleases[h] = await byArch.get(norm)!;
            } catch (e) {
              wrong.push(`${h} is ${os} ${arch}: ${(e as Error).message}`);
            }
          }
        })
      ));
      const others = [...new Set(Object.values(hostReleases).map((r) => r.platform))];
      return wrong.length
        ? {
          status: "failed",
          message: `no MongoDB ${input.release.version} release for ${wrong.join("; ")}`,
        }
        : others.length
        ? {
          status: "passed",
          message: `OS and architecture known on ${described.length} remote host${
            described.length === 1 ? "" : "s"
          }: ${Object.keys(hostReleases).length} need the ${others.join(", ")} release`,
        }
        : {
          status: "passed",
          message:
            `OS and architecture match the ${input.release.platform} release on ${described.length} remote host${
              described.length === 1 ? "" : "s"
            }`,
        };
    });
  }

  const needGb = input.resources.disk_space_gb;
  await timed("disk_space", async () => {
    let minFree = Infinity;
    const low: string[] = [];
    await perHost(async (h) => {
      if (unreachable.has(executorKey(h))) return;
      const perHostGb = needGb *
        ((input.resources.processes_per_host[h] ?? 0) /
          Math.max(1, input.resources.total_processes));
      const free = await input.executors.forHost(h).freeDiskMb(input.deployDir);
      minFree = Math.min(minFree, free);
      if (free / 1024 < perHostGb) {
        low.push(`${h}: ${(free / 1024).toFixed(1)}GB free, ${perHostGb.toFixed(1)}GB needed`);
      }
    });
    const unchecked = hosts.filter((h) => unreachable.has(executorKey(h)));
    if (low.length) {
      return { status: "failed", message: `not enough disk space: ${low.join("; ")}` };
    }
    // A host that could not be reached was not checked: never reported as passed.
    if (minFree === Infinity) {
      return { status: "warning", message: "Disk space not checked: no host could be reached" };
    }
    return {
      status: unchecked.length ? "warning" : "passed",
      message: `Disk space available (${needGb}GB required, ${
        (minFree / 1024).toFixed(0)
      }GB available)${unchecked.length ? `; not checked on ${unchecked.join(", ")}` : ""}`,
    };
  });

  await timed("ports", async () => {
    const busy: string[] = [];
    let own = 0, unchecked = 0;
    // Hosts that can list their listeners are asked once, not once per port.
    const listening = new Map<string, Promise<Set<number>>>();
    await Promise.all(all.map((s) =>
      queue.add(async () => {
        const machine = executorKey(s.host);
        if (unreachable.has(machine)) {
          unchecked++;
          return;
        }
        const ex = input.executors.forHost(s.host);
        let free: boolean;
        if (ex.listeningPorts) {
          if (!listening.has(machine)) listening.set(machine, ex.listeningPorts());
          free = !(await listening.get(machine)!).has(s.port);
        } else free = await ex.portFree(s.port);
        if (free) return;
        const holder = await ex.portHolder?.(s.port).catch(() => undefined);
        const ownConfig = input.ownPorts?.get(`${hostKey(s.host)}:${s.port}`);
        // The cluster's own process (started with its own configuration file) is expected there.
        if (ownConfig !== undefined && (!holder?.command || holder.command.includes(ownConfig))) {
          own++;
          if (holder?.command) ownRunning.add(`${hostKey(s.host)}:${s.port}`);
          return;
        }
        const conn = holder ? undefined : await ex.portConnection?.(s.port).catch(() => undefined);
        const other = input.otherPorts?.get(`${hostKey(s.host)}:${s.port}`);
        busy.push(
          `${hostPort(s.host, s.port)}${
            holder ? ` (held by ${describeHolder(holder)})` : conn ? ` (used by ${conn})` : ""
          }${other === undefined ? "" : `, recorded by cluster ${other}`}${
            // A repair's own port, taken while its server was down: the other process must go.
            ownConfig !== undefined
              ? `: this cluster's own port, taken while its server was down; stop that process ` +
                `or move it off port ${s.port}, then plan again`
              : ""}`,
        );
      })
    ));
    busy.sort();
    if (busy.length) {
      return {
        status: "failed",
        message: `ports already in use: ${busy.join(", ")}`,
        details: { busy },
      };
    }
    const notes = [
      ...(own ? [`${own} held by this cluster's own processes`] : []),
      ...(unchecked ? [`${unchecked} not checked: their host could not be reached`] : []),
    ];
    return {
      status: unchecked ? "warning" : "passed",
      message: `All ports available (${plural(all.length, "port")} on ${
        plural(hosts.length, "host")
      }${notes.length ? `; ${notes.join("; ")}` : ""})`,
    };
  });

  // Remote hosts without global.deploy_dir get the control machine's default path.
  const remote = hosts.filter((h) => input.executors.forHost(h).probe !== undefined);
  if (remote.length && !t.global.deploy_dir) {
    await timed("remote_deploy_dir", () =>
      Promise.resolve({
        status: "warning" as const,
        message: `remote hosts (${
          remote.join(", ")
        }) will use this machine's default deploy_dir ${input.deployDir}; set global.deploy_dir to a path the SSH user can write on every host`,
      }));
  }

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
        formatArchiveSize(r.size_bytes)
      } from ${path.dirname(r.url)})`,
    };
  });

  // The releases of remote hosts of another architecture: cached, or there to download.
  const extra = [...new Map(Object.values(hostReleases).map((r) => [r.platform, r])).values()];
  const cachedPlatforms: string[] = [];
  if (extra.length) {
    await timed("binaries_other_arch", async () => {
      const notes: string[] = [];
      for (const r of extra) {
        const cachedAt = path.join(path.dirname(input.archivePath), r.archive_name);
        if ((await sha256File(cachedAt)) === r.sha256) {
          notes.push(`${r.platform} cached`);
          cachedPlatforms.push(r.platform);
        } else {
          const why = await unavailable(r.url);
          if (why) return { status: "failed", message: `${r.platform}: ${why}` };
          notes.push(`${r.platform} from ${path.dirname(r.url)}`);
        }
      }
      return {
        status: "passed",
        message: `MongoDB ${input.release.version} binaries available (${notes.join(", ")})`,
      };
    });
  }

  return {
    validation: { valid: errors.length === 0, errors, warnings, checks },
    cached,
    hostReleases,
    cachedPlatforms,
    ownRunning,
  };
}

/** Why a release archive cannot be fetched (HEAD for URLs, stat for files); undefined if it can. */
async function unavailable(url: string): Promise<string | undefined> {
  if (/^https?:\/\//.test(url)) {
    const res = await fetch(url, { method: "HEAD" }).catch((e) => e as Error);
    if (res instanceof Error) return `cannot be downloaded from ${url}: ${res.message}`;
    if (!res.ok) return `cannot be downloaded from ${url}: HTTP ${res.status}`;
    return undefined;
  }
  const file = url.startsWith("file://") ? new URL(url).pathname : url;
  return await Deno.stat(file).then(() => undefined, () => `archive not found at ${url}`);
}
