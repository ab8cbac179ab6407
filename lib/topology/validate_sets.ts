/**
 * The topology's replica-set and sharding rules (validate.ts's second half): member settings
 * MongoDB's replSetInitiate refuses, set sizes and voting, and what a sharded cluster needs.
 * MongoDB: ReplSetConfig::validate (members, votes, priority, arbiters), addShard.
 */
import { type MongodServer, type Topology, topologyKind } from "./schema.ts";
import { hostKey, hostPort, isMongoLocalHost, LOCAL_MACHINE } from "./hosts.ts";
import type { Issue, TopologyNode } from "./validate.ts";
import { releaseBefore } from "./release.ts";

/** MongoDB's limits: at most 7 voting members, 50 members in all. */
const MAX_VOTING = 7;
const MAX_MEMBERS = 50;

/** The issues of `t`'s replica sets and sharded layout; `claims`: its entries (topologyNodes). */
export function setIssues(t: Topology, claims: TopologyNode[], version?: string): Issue[] {
  const issues: Issue[] = [];
  const err = (code: string, path: Issue["path"], message: string, hint: string) =>
    issues.push({ severity: "error", code, path, message, hint });
  const warn = (code: string, path: Issue["path"], message: string, hint: string) =>
    issues.push({ severity: "warning", code, path, message, hint });

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
      // MemberConfig: "Arbiter must vote (cannot have 0 votes)" (InvalidReplicaSetConfig).
      if (s.arbiter_only && s.votes === 0) {
        err(
          "arbiter_votes",
          [section, i, "votes"],
          "an arbiter must vote: MongoDB refuses one with votes: 0",
          "remove votes: 0, or arbiter_only (a non-voting data-bearing member)",
        );
      }
      // Unset, a non-voting member's priority is 0 (as a hidden member's is): only one given
      // above 0 contradicts it.
      if ((s.priority ?? 0) > 0 && s.votes === 0) {
        err(
          "nonvoting_priority",
          [section, i, "priority"],
          `a non-voting member must have priority 0, not ${s.priority}`,
          "set priority: 0 (or leave it out) or votes: 1",
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

  // Without replica_set, mongod_servers entries are unrelated servers that share nothing: a
  // second one is most likely a replica set whose replica_set was forgotten.
  if (kind === "standalone" && t.mongod_servers.length > 1) {
    err(
      "several_standalones",
      ["mongod_servers", 1, "replica_set"],
      `${t.mongod_servers.length} mongod_servers without replica_set: a standalone topology ` +
        "has one mongod (these would be separate servers that share no data)",
      "set replica_set (for example: rs0) on every mongod to make them one replica set, or " +
        "deploy each standalone mongod as a cluster of its own",
    );
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
    // MongoDB manual, "Concerns with Multiple Arbiters": each adds a vote that holds no data;
    // from 5.3, ReplSetConfig::validate refuses a second one (BadValue) unless every node was
    // started with setParameter allowMultipleArbiters.
    const arbiters = members.filter((m) => m.s.arbiter_only);
    if (arbiters.length > 1 && first.section === "mongod_servers") {
      const refused = !releaseBefore(version, "5.3") &&
        !members.every((m) => allowsMultipleArbiters(t.global.runtime_config, m.s.runtime_config));
      (refused ? err : warn)(
        "several_arbiters",
        [arbiters[1].section, arbiters[1].i, "arbiter_only"],
        `replica set "${name}" has ${arbiters.length} arbiters: ${
          refused
            ? 'MongoDB 5.3 and later refuse the configuration ("Multiple arbiters are not ' +
              "allowed unless all nodes were started with --setParameter " +
              "'allowMultipleArbiters=true'\"), as arbiters"
            : "arbiters"
        } vote but hold no data, so a primary can be elected, and {w: "majority"} writes can ` +
          "wait, with fewer copies of the data up than the votes suggest",
        refused
          ? "keep one arbiter and make the others data-bearing members (remove arbiter_only); " +
            "or, accepting the risk, give every member of the set runtime_config " +
            "`setParameter: { allowMultipleArbiters: true }`"
          : "keep one arbiter, and make the others data-bearing members (remove arbiter_only)",
      );
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
    } else if (voting.length === 0) {
      // MongoDB's ReplSetConfig::validate: "Replica set configuration must contain at least
      // one voting member" (an even count of 0 would otherwise be warned of at no member).
      err(
        "no_voters",
        [first.section, first.i, "votes"],
        `replica set "${name}" has no voting member: MongoDB requires at least one`,
        "give one member votes: 1 (and a priority above 0, so that it can become primary)",
      );
    } else if (voting.length === 1) {
      warn(
        "single_voter",
        [first.section, first.i, "replica_set"],
        `replica set "${name}" has one voting member: it has no failover (while that member is ` +
          "down or restarting the set has no primary, and a rolling restart cannot keep it " +
          "writable)",
        "fine for development; for failover give it three voting members (`mup cluster " +
          "scale-out` adds them to a running cluster)",
      );
    } else if (voting.length % 2 === 0) {
      // At the voting member that makes the count even (the one a scale-out added, when it
      // was added last), not the set's first entry (tester50).
      const last = voting[voting.length - 1];
      warn(
        "even_voters",
        [last.section, last.i, "replica_set"],
        `replica set "${name}" has an even number of voting members (${voting.length}): ` +
          `a primary needs ${voting.length / 2 + 1} of them, so it survives no more failures ` +
          `than ${voting.length - 1} would${
            voting.length === 2 ? " (losing either member leaves no primary)" : ""
          }, and a network split in half leaves no majority`,
        // MongoDB refuses arbiters in a config server replica set.
        first.section === "config_servers"
          ? "add another voting member"
          : arbiters.length
          ? "add another data-bearing voting member (the set has its arbiter already)"
          : "add an arbiter or another voting member",
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

/** Whether a member's runtime_config (its own over the global one) sets allowMultipleArbiters. */
function allowsMultipleArbiters(
  global: Record<string, unknown> | undefined,
  own: Record<string, unknown> | undefined,
): boolean {
  const of = (rc: Record<string, unknown> | undefined) =>
    (rc?.setParameter as Record<string, unknown> | undefined)?.allowMultipleArbiters ??
      rc?.["setParameter.allowMultipleArbiters"];
  const v = of(own) ?? of(global);
  return v === true || v === "true" || v === 1 || v === "1";
}
