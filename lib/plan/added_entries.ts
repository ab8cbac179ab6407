/**
 * The topology a scale-out records, and the recorded topology plans are checked against: the
 * recorded entries as recorded, plus the entries a scale-out adds. Pure.
 */
import { hostKey } from "../topology/hosts.ts";
import type { Topology } from "../topology/schema.ts";
import { withRuntimeConfigs } from "./reconfigure_changes.ts";

const machine = (host: string, port: number) => `${hostKey(host)}:${port}`;

/**
 * The topology a scale-out records: the recorded one, each list extended by the entries of
 * `asked` that it lacks (by machine and port), in `asked`'s order. Everything else — global,
 * hooks, the existing entries as written — stays as recorded.
 */
export function withAddedEntries(recorded: Topology, asked: Topology): Topology {
  const grow = <T extends { host: string; port: number }>(was: T[], now: T[]): T[] => {
    const have = new Set(was.map((e) => machine(e.host, e.port)));
    return [...was, ...now.filter((e) => !have.has(machine(e.host, e.port)))];
  };
  return {
    ...recorded,
    config_servers: grow(recorded.config_servers, asked.config_servers),
    mongod_servers: grow(recorded.mongod_servers, asked.mongod_servers),
    mongos_servers: grow(recorded.mongos_servers, asked.mongos_servers),
  };
}

/**
 * `asked` without the entries the recorded topology lacks, in the recorded order (where a
 * topology lists an entry does not matter): what must equal the recorded one.
 */
export function withoutAddedEntries(recorded: Topology, asked: Topology): Topology {
  const keep = <T extends { host: string; port: number }>(was: T[], now: T[]): T[] =>
    was.flatMap((e) => now.filter((n) => machine(n.host, n.port) === machine(e.host, e.port)));
  return {
    ...asked,
    config_servers: keep(recorded.config_servers, asked.config_servers),
    mongod_servers: keep(recorded.mongod_servers, asked.mongod_servers),
    mongos_servers: keep(recorded.mongos_servers, asked.mongos_servers),
  };
}

/**
 * The topology a plan of `operation` may write configurations for and run processes of, given
 * the recorded one: a reconfigure's is the recorded topology with its own runtime_config, a
 * scale-out's the recorded one with its added entries, a scale-in's without its removed ones;
 * every other plan's the recorded one.
 */
export function allowedTopology(
  plan: { operation: string; topology: Topology },
  recorded: Topology,
): Topology {
  if (plan.operation === "reconfigure") return withRuntimeConfigs(recorded, plan.topology);
  if (plan.operation === "scale-out") return withAddedEntries(recorded, plan.topology);
  if (plan.operation === "scale-in") return withoutRemovedEntries(recorded, plan.topology);
  return recorded;
}

/**
 * The recorded topology without the entries `asked` lacks (by machine and port): what a
 * scale-in records. Everything else stays as recorded.
 */
export function withoutRemovedEntries(recorded: Topology, asked: Topology): Topology {
  const keep = <T extends { host: string; port: number }>(was: T[], now: T[]): T[] => {
    const have = new Set(now.map((e) => machine(e.host, e.port)));
    return was.filter((e) => have.has(machine(e.host, e.port)));
  };
  return {
    ...recorded,
    config_servers: keep(recorded.config_servers, asked.config_servers),
    mongod_servers: keep(recorded.mongod_servers, asked.mongod_servers),
    mongos_servers: keep(recorded.mongos_servers, asked.mongos_servers),
  };
}
