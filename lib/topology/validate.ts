import type { SourceLocation } from "../errors.ts";
import { isLocalHost, type MongodServer, type Topology, topologyKind } from "./schema.ts";
import { nodeDirs, type Role } from "./layout.ts";

export interface TopologyIssue {
  severity: "error" | "warning";
  code: string;
  message: string;
  hint?: string;
  path?: (string | number)[];
  location: SourceLocation;
}

type Issue = Omit<TopologyIssue, "location">;

const MAX_VOTING = 7;
const MAX_MEMBERS = 50;

/**
 * Semantic checks on a schema-valid topology: everything a real deployment would trip on.
 * Pure; returns issues with field paths that the loader turns into file positions.
 */
export function validateTopology(t: Topology): Issue[] {
  const issues: Issue[] = [];
  const err = (code: string, path: Issue["path"], message: string, hint: string) =>
    issues.push({ severity: "error", code, path, message, hint });
  const warn = (code: string, path: Issue["path"], message: string, hint: string) =>
    issues.push({ severity: "warning", code, path, message, hint });

  const all: { section: string; i: number; host: string; port: number; role: Role }[] = [
    ...t.config_servers.map((s, i) => ({
      section: "config_servers",
      i,
      ...s,
      role: "config" as Role,
    })),
    ...t.mongod_servers.map((s, i) => ({
      section: "mongod_servers",
      i,
      ...s,
      role: "mongod" as Role,
    })),
    ...t.mongos_servers.map((s, i) => ({
      section: "mongos_servers",
      i,
      ...s,
      role: "mongos" as Role,
    })),
  ];
  if (t.mongod_servers.length === 0 && t.config_servers.length === 0) {
    err(
      "no_servers",
      ["mongod_servers"],
      "the topology has no mongod servers",
      "add at least one entry under mongod_servers",
    );
  }

  const seen = new Map<string, string>();
  const dirs = new Map<string, string>();
  for (const n of all) {
    const here = `${n.section}[${n.i}]`;
    if (n.port === 0 && !isLocalHost(n.host)) {
      err(
        "port_zero_remote",
        [n.section, n.i, "port"],
        `port 0 (allocate a free port) is only allowed for local hosts, not ${n.host}`,
        "give this node an explicit port",
      );
    }
    if (n.port !== 0) {
      const key = `${n.host}:${n.port}`;
      const other = seen.get(key);
      if (other) {
        err(
          "duplicate_address",
          [n.section, n.i, "port"],
          `${key} is already used by ${other}`,
          "give each process on a host its own port",
        );
      } else seen.set(key, here);
    }
    if (n.role !== "mongos" && n.port !== 0) {
      const node = n.section === "config_servers" ? t.config_servers[n.i] : t.mongod_servers[n.i];
      const dataDir = nodeDirs(t, node, n.role, "<deploy>").data;
      const key = `${n.host}:${dataDir}`;
      const other = dirs.get(key);
      if (other) {
        err(
          "shared_data_dir",
          [n.section, n.i, "data_dir"],
          `data directory ${dataDir} on ${n.host} is also used by ${other}`,
          "give each mongod its own data_dir",
        );
      } else dirs.set(key, here);
    }
  }

  // One SSH port per host: entries of the same host must not disagree.
  const sshPorts = new Map<string, { port: number; at: string }>();
  for (const n of all) {
    const entry = n.section === "mongos_servers"
      ? t.mongos_servers[n.i]
      : n.section === "config_servers"
      ? t.config_servers[n.i]
      : t.mongod_servers[n.i];
    if (entry.ssh_port === undefined) continue;
    const seenPort = sshPorts.get(n.host);
    if (seenPort && seenPort.port !== entry.ssh_port) {
      err(
        "ssh_port_conflict",
        [n.section, n.i, "ssh_port"],
        `ssh_port ${entry.ssh_port} for ${n.host} differs from ${seenPort.port} given at ${seenPort.at}`,
        "give every entry of a host the same ssh_port (or set it once under global)",
      );
    } else if (!seenPort) {
      sshPorts.set(n.host, { port: entry.ssh_port, at: `${n.section}[${n.i}]` });
    }
  }

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
