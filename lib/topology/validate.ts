import * as path from "node:path";
import type { SourceLocation } from "../errors.ts";
import { managedKeyIssues } from "./managed_keys.ts";
import { runtimeOptionIssues } from "./runtime_options.ts";
import { systemDirIssues } from "./system_dirs.ts";
import { aKind, unknownPhase } from "../hooks/phases.ts";
import { HOOK_EVENTS } from "../hooks/schema.ts";
import {
  isLocalHost,
  type MongodServer,
  type MongosServer,
  type Topology,
  topologyKind,
} from "./schema.ts";
import { nodeDirs, nodeFiles, type Role } from "./layout.ts";
import { hostKey, hostPort } from "./hosts.ts";
import { bindIpProblem } from "./bind_ip.ts";
import { setIssues } from "./validate_sets.ts";
import { writeConcernIssues } from "./validate_write_concern.ts";

export interface TopologyIssue {
  severity: "error" | "warning";
  code: string;
  message: string;
  hint?: string;
  path?: (string | number)[];
  location: SourceLocation;
  /** A key written twice: where it was written first. */
  first_occurrence?: SourceLocation;
}

export type Issue = Omit<TopologyIssue, "location">;

/** The server distribution and version a topology is checked for. */
export interface ServerTarget {
  variant?: string;
  version?: string;
}

/** One process entry of a topology, where it is in the file. */
export interface TopologyNode {
  section: "config_servers" | "mongod_servers" | "mongos_servers";
  index: number;
  role: Role;
  host: string;
  port: number;
  node: MongodServer | MongosServer;
}

function topologyNodes(t: Topology): TopologyNode[] {
  const out: TopologyNode[] = [];
  const add = (
    section: TopologyNode["section"],
    role: Role,
    list: (MongodServer | MongosServer)[],
  ) =>
    list.forEach((node, index) =>
      out.push({ section, index, role, host: node.host, port: node.port, node })
    );
  add("config_servers", "config", t.config_servers);
  add("mongod_servers", "mongod", t.mongod_servers);
  add("mongos_servers", "mongos", t.mongos_servers);
  return out;
}

/**
 * An error per data directory inside another process's on the same machine: removing or
 * resyncing the outer one (an operator's `rm -rf`, an emptied member's initial sync) would take
 * the inner one's data with it. Sorted, each directory is checked against the chain of
 * directories that contain the one before it: O(n log n) for thousands of processes.
 */
function nestedDataDirIssues(
  dirs: { machine: string; dir: string; c: TopologyNode }[],
  entry: (c: TopologyNode) => string,
  err: (code: string, path: Issue["path"], message: string, hint: string) => void,
): void {
  const sorted = dirs.toSorted((a, b) =>
    a.machine < b.machine ? -1 : a.machine > b.machine ? 1 : a.dir < b.dir ? -1 : 1
  );
  const outer: typeof dirs = [];
  for (const d of sorted) {
    while (
      outer.length &&
      (outer.at(-1)!.machine !== d.machine || !d.dir.startsWith(`${outer.at(-1)!.dir}/`))
    ) outer.pop();
    const around = outer.at(-1);
    if (around) {
      err(
        "nested_data_dir",
        [d.c.section, d.c.index, "data_dir"],
        `data directory ${d.dir} on ${d.c.host} is inside ${around.dir}, the data directory ` +
          `of ${entry(around.c)}`,
        "give each process a data_dir of its own, side by side, not one inside another",
      );
    }
    outer.push(d);
  }
}

/**
 * Semantic checks on a schema-valid topology: everything a real deployment would trip on.
 * Pure; returns issues with field paths that the loader turns into file positions.
 *
 * @param target the server distribution (`mongo`, default, or `percona`: what runtime_config
 *   keys mup can tell are unknown to the binaries) and version ("7.0", "7.0.14"; options a
 *   series no longer knows) it is for; without a version, every option of 6.0–8.0 passes.
 */
export function validateTopology(t: Topology, target: ServerTarget = {}): Issue[] {
  const issues: Issue[] = [
    ...managedKeyIssues(t),
    ...runtimeOptionIssues(t, target.variant, target.version),
    ...systemDirIssues(t),
  ];
  const err = (code: string, path: Issue["path"], message: string, hint: string) =>
    issues.push({ severity: "error", code, path, message, hint });
  const warn = (code: string, path: Issue["path"], message: string, hint: string) =>
    issues.push({ severity: "warning", code, path, message, hint });

  // A phase hook for a phase no plan of this kind of cluster has never runs.
  for (const event of HOOK_EVENTS) {
    const given = t.hooks?.[event];
    const list = Array.isArray(given) ? given : given ? [given] : [];
    list.forEach((h, i) => {
      const at = ["hooks", event, ...(Array.isArray(given) ? [i] : [])];
      // A bare number is milliseconds; one below a second is most likely seconds meant.
      if (typeof h.timeout === "number" && h.timeout < 1000) {
        warn(
          "hook_timeout_ms",
          [...at, "timeout"],
          `this hook's timeout, ${h.timeout}, is ${h.timeout} milliseconds (a number without a unit is ` +
            "milliseconds): the hook is killed after that",
          `write ${h.timeout}s for ${h.timeout} seconds (or ${h.timeout}ms to say milliseconds)`,
        );
      }
      const never = h.phase === undefined ? undefined : unknownPhase(h.phase, topologyKind(t));
      if (!never) return;
      warn(
        "hook_phase_unknown",
        [...at, "phase"],
        `this hook is for phase ${h.phase}, which no plan of ${
          aKind(topologyKind(t))
        } has: it will never run${never.note ? `; ${never.note}` : ""}`,
        "give it a phase a plan has (`mup plan show` lists a plan's phases), or remove `phase` " +
          "to run it in every phase",
      );
    });
  }
  if (t.global.security?.auth === false) {
    warn(
      "auth_disabled",
      ["global", "security", "auth"],
      "access control is off: anyone who reaches the cluster's ports can read and change every database",
      "remove `auth: false` so that mup generates a keyfile and an admin user (`mup cluster credentials <name>` prints it)",
    );
  }
  if (t.mongod_servers.length === 0 && t.config_servers.length === 0) {
    err(
      "no_servers",
      ["mongod_servers"],
      "the topology has no mongod servers",
      "add at least one entry under mongod_servers",
    );
  }

  // Per machine, not per spelling: localhost, 127.0.0.1, ::1 and this machine's name are one
  // host, and two processes there cannot share a port or a file. (Kept lean: on a topology of
  // thousands of processes this loop's garbage shows in the planner's peak memory.)
  const claims = topologyNodes(t);
  const entry = (c: TopologyNode) => `${c.section}[${c.index}] (${hostPort(c.host, c.port)})`;
  const ports = new Map<string, TopologyNode>();
  const files = new Map<string, TopologyNode>();
  const claimFile = (c: TopologyNode, machine: string, file: string, what: string) => {
    const field = what === "log file" ? "log_dir" : "data_dir";
    const other = files.get(`${machine}\0${file}`);
    if (other) {
      err(
        what === "log file" ? "shared_log_file" : "shared_data_dir",
        [c.section, c.index, field],
        `${what} ${file} on ${c.host} is also used by ${entry(other)}`,
        `give each process its own ${field}`,
      );
    } else files.set(`${machine}\0${file}`, c);
  };
  const dataDirs: { machine: string; dir: string; c: TopologyNode }[] = [];
  for (const c of claims) {
    const machine = hostKey(c.host);
    if (c.port === 0 && !isLocalHost(c.host)) {
      err(
        "port_zero_remote",
        [c.section, c.index, "port"],
        `port 0 (allocate a free port) is only allowed for local hosts, not ${c.host}`,
        "give this node an explicit port",
      );
    }
    if (c.port === 0) continue; // its directories are named after the port it will get
    const other = ports.get(`${machine}:${c.port}`);
    if (other) {
      const same = other.host === c.host ? "" : ` (${other.host} and ${c.host} are one machine)`;
      err(
        "duplicate_address",
        [c.section, c.index, "port"],
        `${hostPort(c.host, c.port)} is already used by ${entry(other)}${same}`,
        "give each process on a machine its own port",
      );
      // Its directories are named after the port: that they clash too says nothing new.
      if (!("data_dir" in c.node && c.node.data_dir) && c.node.log_dir === undefined) continue;
    } else ports.set(`${machine}:${c.port}`, c);
    // A global or default log directory gets a <role>-<port> directory per process: only a
    // node's own log_dir can clash.
    const ownLogDir = c.node.log_dir !== undefined;
    if (c.role === "mongos" && !ownLogDir) continue;
    const own = nodeFiles(nodeDirs(t, c.node, c.role, "<deploy>"), c.role);
    if (own.data) {
      // One spelling per directory (`/d/` is `/d`), so that sharing and nesting are seen.
      const dir = path.posix.normalize(own.data).replace(/(.)\/+$/, "$1");
      claimFile(c, machine, dir, "data directory");
      dataDirs.push({ machine, dir, c });
    }
    if (ownLogDir) claimFile(c, machine, own.log, "log file");
  }
  nestedDataDirIssues(dataDirs, entry, err);

  // A global net.bindIp that leaves out a host is said once per host, not once per process.
  const saidGlobal = new Set<string>();
  for (const c of claims) {
    const problem = bindIpProblem(c.host, t.global.runtime_config, c.node.runtime_config);
    if (problem && !problem.fromNode) {
      if (saidGlobal.has(hostKey(c.host))) continue;
      saidGlobal.add(hostKey(c.host));
    }
    if (problem) {
      const where = problem.fromNode
        ? [c.section, c.index, "runtime_config", problem.key]
        : ["global", "runtime_config", problem.key];
      err(
        "bind_ip_excludes_host",
        where,
        `net.bindIp "${problem.value}" leaves out ${c.host}, the address ${c.section}[${c.index}] is reached at: mup, the other members and mongos could not connect to it`,
        `add ${problem.add} to net.bindIp ("${problem.value},${problem.add}"), or set net.bindIpAll: true`,
      );
    }
  }

  // One SSH port per host: entries of the same host must not disagree.
  const sshPorts = new Map<string, { port: number; at: string }>();
  for (const n of claims) {
    if (n.node.ssh_port === undefined) continue;
    const seenPort = sshPorts.get(n.host);
    if (seenPort && seenPort.port !== n.node.ssh_port) {
      err(
        "ssh_port_conflict",
        [n.section, n.index, "ssh_port"],
        `ssh_port ${n.node.ssh_port} for ${n.host} differs from ${seenPort.port} given at ${seenPort.at}`,
        "give every entry of a host the same ssh_port (or set it once under global)",
      );
    } else if (!seenPort) {
      sshPorts.set(n.host, { port: n.node.ssh_port, at: `${n.section}[${n.index}]` });
    }
  }

  issues.push(...setIssues(t, claims, target.version), ...writeConcernIssues(t, target.version));
  return issues;
}
