import * as path from "node:path";
import type { SourceLocation } from "../errors.ts";
import { managedKeyIssues } from "./managed_keys.ts";
import { systemDirIssues } from "./system_dirs.ts";
import {
  isLocalHost,
  type MongodServer,
  type MongosServer,
  type Topology,
  topologyKind,
} from "./schema.ts";
import { nodeDirs, nodeFiles, type Role } from "./layout.ts";
import { hostKey, hostPort, isMongoLocalHost, LOCAL_MACHINE } from "./hosts.ts";
import { bindIpProblem } from "./bind_ip.ts";

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

type Issue = Omit<TopologyIssue, "location">;

/** One process entry of a topology, where it is in the file. */
interface TopologyNode {
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

const MAX_VOTING = 7;
const MAX_MEMBERS = 50;

/**
 * Semantic checks on a schema-valid topology: everything a real deployment would trip on.
 * Pure; returns issues with field paths that the loader turns into file positions.
 */
export function validateTopology(t: Topology): Issue[] {
  const issues: Issue[] = [...managedKeyIssues(t), ...systemDirIssues(t)];
  const err = (code: string, path: Issue["path"], message: string, hint: string) =>
    issues.push({ severity: "error", code, path, message, hint });
  const warn = (code: string, path: Issue["path"], message: string, hint: string) =>
    issues.push({ severity: "warning", code, path, message, hint });

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

  for (const c of claims) {
    const problem = bindIpProblem(c.host, t.global.runtime_config, c.node.runtime_config);
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

  /** MongoDB refuses a set (and addShard a cluster) mixing localhost and other addresses. */
  const mixedLocalhost = (
    nodes: { section: string; i: number; host: string }[],
    what: string,
  ) => {
    const local = nodes.filter((n) => isMongoLocalHost(n.host));
    if (local.length === 0 || local.length === nodes.length) return;
    const other = nodes.find((n) => !isMongoLocalHost(n.host))!;
    err(
      "mixed_localhost",
      [other.section, other.i, "host"],
      `${what} mixes localhost addresses (${
        local[0].host
      }) with others (${other.host}); MongoDB requires all of its hosts to be localhost references or none`,
      `write ${other.host} as localhost, or name every member of ${what} by its network address`,
    );
  };

  const kind = topologyKind(t);
  const sets = new Map<string, { section: string; i: number; s: MongodServer }[]>();
  for (const section of ["config_servers", "mongod_servers"] as const) {
    t[section].forEach((s, i) => {
      if (s.hidden && (s.priority ?? 0) !== 0) {
        err(
          "hidden_priority",
          [section, i, "priority"],
          `a hidden member must have priority 0, not ${s.priority}`,
          "set priority: 0 or remove hidden",
        );
      }
      if (s.arbiter_only && (s.priority ?? 0) !== 0) {
        err(
          "arbiter_priority",
          [section, i, "priority"],
          `an arbiter must have priority 0, not ${s.priority}`,
          "set priority: 0 or remove arbiter_only",
        );
      }
      if ((s.priority ?? 1) > 0 && s.votes === 0) {
        err(
          "nonvoting_priority",
          [section, i, "priority"],
          "a non-voting member must have priority 0",
          "set priority: 0 or votes: 1",
        );
      }
      if (!s.replica_set) {
        if (section === "config_servers") {
          err(
            "config_without_set",
            [section, i, "replica_set"],
            "config servers must form a replica set",
            "set replica_set (for example: cfg)",
          );
        } else if (kind === "sharded") {
          err(
            "shard_without_set",
            [section, i, "replica_set"],
            "in a sharded cluster every shard is a replica set",
            "set replica_set (for example: shard1)",
          );
        } else if (kind === "replica_set") {
          err(
            "mixed_standalone",
            [section, i, "replica_set"],
            "this node has no replica_set while others do",
            "set replica_set on every mongod, or on none",
          );
        }
        return;
      }
      const list = sets.get(s.replica_set) ?? [];
      list.push({ section, i, s });
      sets.set(s.replica_set, list);
    });
  }

  // A replica set topology deploys one set: a second name would be a second, separate set that
  // the cluster's connection string, display and lifecycle commands take for members of the first.
  if (kind === "replica_set" && sets.size > 1) {
    const [firstName] = sets.keys();
    for (const [name, members] of [...sets].slice(1)) {
      err(
        "several_replica_sets",
        [members[0].section, members[0].i, "replica_set"],
        `replica set "${name}" beside "${firstName}": without config servers and mongos a ` +
          "topology deploys one replica set",
        `use replica_set: ${firstName} on every mongod, or deploy "${name}" as its own cluster ` +
          "(or add config_servers and mongos_servers for a sharded cluster)",
      );
    }
  }
  for (const [name, members] of sets) {
    const first = members[0];
    const sections = new Set(members.map((m) => m.section));
    if (sections.size > 1) {
      err(
        "set_name_clash",
        [
          members.find((m) => m.section === "mongod_servers")!.section,
          members.find((m) => m.section === "mongod_servers")!.i,
          "replica_set",
        ],
        `shard replica set "${name}" has the same name as the config replica set`,
        "rename the shard's replica_set",
      );
      continue;
    }
    if (first.section === "config_servers") {
      // MongoDB's ReplSetConfig::validate for configsvr sets: no arbiters (BadValue,
      // "Arbiters are not allowed in replica set configurations being used for config servers");
      // delayed members and buildIndexes: false are refused too, which a topology cannot ask for.
      for (const m of members.filter((m) => m.s.arbiter_only)) {
        err(
          "config_arbiter",
          [m.section, m.i, "arbiter_only"],
          "arbiters are not allowed in a config server replica set (MongoDB refuses the set)",
          "remove arbiter_only; make it a data-bearing member or remove the entry",
        );
      }
    }
    if (kind !== "sharded") {
      const nodes = members.map((m) => ({ section: m.section, i: m.i, host: m.s.host }));
      mixedLocalhost(nodes, `replica set "${name}"`);
    }
    const voting = members.filter((m) => (m.s.votes ?? 1) === 1);
    if (members.length > MAX_MEMBERS) {
      err(
        "too_many_members",
        [first.section, members[MAX_MEMBERS].i],
        `replica set "${name}" has ${members.length} members; MongoDB allows at most ${MAX_MEMBERS}`,
        "split it or remove members",
      );
    }
    if (voting.length > MAX_VOTING) {
      err(
        "too_many_voters",
        [first.section, voting[MAX_VOTING].i, "votes"],
        `replica set "${name}" has ${voting.length} voting members; MongoDB allows at most ${MAX_VOTING}`,
        "set votes: 0 and priority: 0 on the extra members",
      );
    } else if (voting.length % 2 === 0) {
      warn(
        "even_voters",
        [first.section, first.i, "replica_set"],
        `replica set "${name}" has an even number of voting members (${voting.length}); a network split can leave no majority`,
        "add an arbiter or another voting member",
      );
    }
    if (
      !members.some((m) =>
        !m.s.hidden && !m.s.arbiter_only && (m.s.priority ?? 1) > 0 && (m.s.votes ?? 1) === 1
      )
    ) {
      err(
        "no_electable",
        [first.section, first.i, "replica_set"],
        `replica set "${name}" has no member that can become primary`,
        "give at least one member priority > 0",
      );
    }
  }

  if (kind === "sharded") {
    // addShard's rule covers the config servers and shards (mongos is in no configuration).
    mixedLocalhost(
      claims.filter((c) => c.section !== "mongos_servers").map((c) => ({
        section: c.section,
        i: c.index,
        host: c.host,
      })),
      "the sharded cluster",
    );
    // mongos reaches the config servers (and shards) at the addresses the configurations
    // name: a loopback address, on another machine, is that machine itself.
    const cfgLocal = t.config_servers.length > 0 &&
      t.config_servers.every((c) => isMongoLocalHost(c.host));
    t.mongos_servers.forEach((m, i) => {
      if (!cfgLocal || hostKey(m.host) === LOCAL_MACHINE) return;
      err(
        "mongos_remote_localhost",
        ["mongos_servers", i, "host"],
        `mongos ${hostPort(m.host, m.port)} runs on another machine than the config servers, ` +
          `which are named by localhost addresses (${t.config_servers[0].host}): there, ` +
          `${t.config_servers[0].host} is ${m.host} itself, so it would never reach them`,
        "name the config servers and shards by their network addresses, or run this mongos " +
          "on this machine (host: localhost)",
      );
    });
    if (t.config_servers.length === 0) {
      err(
        "no_config_set",
        ["config_servers"],
        "a sharded cluster needs a config server replica set",
        "add config_servers with a replica_set name",
      );
    }
    if (t.mongos_servers.length === 0) {
      err(
        "no_mongos",
        ["mongos_servers"],
        "a sharded cluster needs at least one mongos",
        "add an entry under mongos_servers",
      );
    }
    const cfgSets = new Set(t.config_servers.map((s) => s.replica_set).filter(Boolean));
    if (cfgSets.size > 1) {
      err(
        "several_config_sets",
        ["config_servers"],
        `config servers name ${cfgSets.size} replica sets; there must be exactly one`,
        "give every config server the same replica_set",
      );
    }
    if (t.mongod_servers.length === 0) {
      err(
        "no_shards",
        ["mongod_servers"],
        "a sharded cluster needs at least one shard",
        "add mongod_servers with a replica_set",
      );
    }
  }
  return issues;
}
