import * as path from "node:path";
/**
 * `cluster deploy` on a cluster that already exists may only repair it: the same processes,
 * settings and version. Anything else is a change another command makes (scale-out, scale-in,
 * reload, upgrade, downgrade, variant switch); this module finds those differences. Pure.
 */
import { concernText, defaultWriteConcernChange } from "./default_write_concern.ts";
import { shellQuote } from "../executor/shell_quote.ts";
import { hostKey, hostPort } from "../topology/hosts.ts";
import { type Topology, topologyKind } from "../topology/schema.ts";
import { securityOf } from "../security/settings.ts";
import { listProcesses, type ProcessSpec } from "./processes.ts";
import { describeRole } from "./op_builders.ts";
import { cmpVersion } from "../download/manifest.ts";
import { MupError } from "../errors.ts";
import type { ValidationIssue } from "./schema.ts";

/** What a cluster is (as recorded) or should be (as asked). */
export interface ClusterShape {
  topology: Topology;
  version: string;
  variant: string;
}

/** One way the asked cluster differs from the recorded one, and the command that would make it. */
export interface Difference {
  change: string;
  /** The mup command that makes this change. */
  command:
    | "scale-out"
    | "scale-in"
    | "reload"
    | "upgrade"
    | "downgrade"
    | "variant-switch"
    | "replica set reconfiguration"
    | "member options"
    | "security change"
    | "move"
    | "tls"
    | "kind change";
}

const KIND_WORDS = {
  standalone: "a standalone mongod",
  replica_set: "a replica set",
  sharded: "a sharded cluster",
} as const;

/** Commands mup has today for the changes above (the others arrive with their issues). */
export const AVAILABLE_COMMANDS = new Set<Difference["command"]>([
  "tls",
  "upgrade",
  "reload",
  "scale-out",
  "scale-in",
  "member options",
]);

/**
 * Differences whose `change` says its own way forward: those a command of mup makes, and a kind
 * change (which no command makes: its text says what to do instead).
 */
const SAYS_ITS_WAY = new Set<Difference["command"]>([...AVAILABLE_COMMANDS, "kind change"]);

const key = (p: ProcessSpec) => `${hostKey(p.host)}:${p.port}`;

function describe(p: ProcessSpec): string {
  return `${describeRole(p)} ${hostPort(p.host, p.port)}`;
}

/** Stable JSON (sorted keys), so settings compare by content, not key order. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") {
    return `{${
      Object.keys(v).sort().map((k) =>
        `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`
      ).join(",")
    }}`;
  }
  return JSON.stringify(v);
}

/**
 * The differences between the recorded cluster and the asked one, in a stable order: processes
 * added and removed (by machine and port, whatever name the host is given), members whose
 * replica set, role or election settings change, settings (runtime_config) that change, data,
 * log or config directories that move, and the server version or variant. `deployDir` is the
 * cluster's default deploy root, the same for both.
 */
export function clusterDifferences(
  recorded: ClusterShape,
  asked: ClusterShape,
  deployDir: string,
  /** The cluster's name, for the commands a difference names. */
  cluster = "<cluster>",
  /** The `--mirror` the asked release comes from, kept in the commands a difference names. */
  mirror?: string,
  /** The asked topology's file, for the commands a difference names. */
  topologyFile = "<topology>",
): Difference[] {
  // Another kind of cluster: no command of mup makes it, so the processes that differ are not
  // listed as scale-outs and scale-ins that would each refuse it (tester40 M3).
  const was = topologyKind(recorded.topology), will = topologyKind(asked.topology);
  if (was !== will) {
    return [{
      change: `the topology makes cluster ${cluster}, ${KIND_WORDS[was]}, ${KIND_WORDS[will]}: ` +
        "mup does not turn one kind of cluster into another (MongoDB's conversions, such as " +
        '"Convert a Replica Set to a Sharded Cluster", are procedures of their own). Deploy ' +
        "this topology as a new cluster and move the data to it, or keep the recorded kind",
      command: "kind change",
    }];
  }
  const out: Difference[] = [];
  // A change a command of mup makes on the running cluster from this topology file.
  const madeBy = (command: string) =>
    `made on the running cluster by \`mup cluster ${command} ${cluster} ${
      shellQuote(topologyFile)
    }\``;
  const before = new Map(listProcesses(recorded.topology, deployDir).map((p) => [key(p), p]));
  const after = new Map(listProcesses(asked.topology, deployDir).map((p) => [key(p), p]));
  for (const [k, p] of after) {
    if (!before.has(k)) {
      out.push({
        change: `add ${describe(p)}: ${madeBy("scale-out")}`,
        command: "scale-out",
      });
    }
  }
  for (const [k, p] of before) {
    if (!after.has(k)) {
      out.push({
        change: `remove ${describe(p)}: ${madeBy("scale-in")}`,
        command: "scale-in",
      });
    }
  }
  for (const [k, a] of after) {
    const b = before.get(k);
    if (!b) continue;
    const fields: [string, unknown, unknown][] = [
      ["role", b.role, a.role],
      ["replica_set", b.replicaSet, a.replicaSet],
      ["arbiter_only", b.arbiterOnly, a.arbiterOnly],
    ];
    for (const [name, x, y] of fields) {
      if (x !== y) {
        out.push({
          change: `${describe(b)}: ${name} ${String(x ?? "(none)")} → ${String(y ?? "(none)")}`,
          command: "replica set reconfiguration",
        });
      }
    }
    // A member's election options: a replSetReconfig, made by reconfigure (an arbiter's
    // follow from arbiter_only, above).
    const options: [string, unknown, unknown][] = [
      ["priority", b.priority, a.priority],
      ["votes", b.votes, a.votes],
      ["hidden", b.hidden, a.hidden],
    ];
    const moved = options.filter(([, x, y]) => x !== y);
    if (moved.length && b.arbiterOnly === a.arbiterOnly && b.replicaSet === a.replicaSet) {
      out.push({
        change: `${describe(b)}: ${
          moved.map(([n, x, y]) => `${n} ${String(x)} → ${String(y)}`).join(", ")
        }: ${madeBy("reconfigure")}`,
        command: "member options",
      });
    }
    for (const d of ["deploy", "data", "log", "config"] as const) {
      if (b.dirs[d] !== a.dirs[d]) {
        out.push({
          change: `${describe(b)}: ${d} directory ${b.dirs[d]} → ${a.dirs[d]}`,
          command: "move",
        });
      }
    }
    if (canonical(b.runtimeConfig) !== canonical(a.runtimeConfig)) {
      out.push({
        change: `${describe(b)}: runtime_config ${canonical(b.runtimeConfig)} → ${
          canonical(a.runtimeConfig)
        }: ${madeBy("reconfigure")}`,
        command: "reload",
      });
    }
  }
  // Security never changes silently: a cluster recorded without global.security ran without
  // access control (security/settings.ts securityOf).
  const sb = securityOf(recorded.topology), sa = securityOf(asked.topology);
  const onOff = (v: boolean) => (v ? "on" : "off");
  if (sb.auth !== sa.auth) {
    out.push({
      change: `security.auth ${onOff(sb.auth)} → ${onOff(sa.auth)}${
        sb.auth ? "" : " (the recorded cluster runs without access control)"
      }`,
      command: "security change",
    });
  }
  if (sb.auth && sa.auth && sb.adminUser !== sa.adminUser) {
    out.push({
      change: `security.admin_user ${sb.adminUser} → ${sa.adminUser}`,
      command: "security change",
    });
  }
  if (sb.auth && sa.auth && sb.keyfile !== sa.keyfile) {
    out.push({
      change: `security.keyfile ${sb.keyfile ?? "(generated)"} → ${sa.keyfile ?? "(generated)"}`,
      command: "security change",
    });
  }
  if (sb.tls !== sa.tls) {
    out.push({
      change: `security.tls ${onOff(sb.tls)} → ${
        onOff(sa.tls)
      }: switched on the running cluster by \`mup cluster tls ${cluster} ${
        sa.tls ? "enable" : "disable"
      }\``,
      command: "tls",
    });
  }
  const dwc = defaultWriteConcernChange(recorded.topology, asked.topology);
  if (dwc !== "none") {
    const was = recorded.topology.global.default_write_concern;
    out.push({
      change: dwc === "unset"
        ? `global.default_write_concern ${concernText(was!)} → (none): MongoDB keeps a ` +
          "cluster-wide default write concern once set (it can be changed, not unset); keep " +
          "it in the topology"
        : `global.default_write_concern ${was ? concernText(was) : "(none)"} → ${
          concernText(asked.topology.global.default_write_concern!)
        }: ${madeBy("reconfigure")}`,
      command: dwc === "unset" ? "kind change" : "reload",
    });
  }
  out.push(...serverDifferences(recorded, asked, cluster, mirror));
  // Several kinds of change are made one command at a time, each from the topology the one
  // before recorded: none of them takes this file as it is.
  // (reconfigure makes both runtime_config and member options changes: one command.)
  const kinds = new Set(out.map((d) => d.command === "member options" ? "reload" : d.command));
  if (kinds.size > 1) {
    const file = shellQuote(topologyFile);
    return out.map((d) => ({
      ...d,
      change: d.change.replaceAll(` ${cluster} ${file}\``, ` ${cluster} <topology>\``),
    }));
  }
  return out;
}

/** `7.0.5` of Percona's `7.0.5-3`: the MongoDB release a build is of. */
const releaseOf = (version: string) => version.split("-")[0];

/**
 * A different server variant is a switch of distribution (mongo ↔ percona), named as such, not
 * an upgrade; a different release is an upgrade or a downgrade, as the versions go. A variant
 * switch to the same release (7.0.5 → 7.0.5-3) is only that switch.
 */
function serverDifferences(
  recorded: ClusterShape,
  asked: ClusterShape,
  cluster: string,
  mirror?: string,
): Difference[] {
  const out: Difference[] = [];
  const sameRelease = releaseOf(recorded.version) === releaseOf(asked.version);
  if (recorded.variant !== asked.variant) {
    out.push({
      change:
        `server variant ${recorded.variant} ${recorded.version} → ${asked.variant} ${asked.version}${
          sameRelease ? ` (the same release, ${releaseOf(asked.version)}: no version change)` : ""
        }`,
      command: "variant-switch",
    });
    if (sameRelease) return out;
  }
  if (recorded.version !== asked.version) {
    const newer = cmpVersion(asked.version, recorded.version) > 0;
    out.push({
      change: `server version ${recorded.version} → ${asked.version} (${
        newer
          ? `newer: upgraded on the running cluster by \`mup cluster upgrade ${cluster} ` +
            `--version ${asked.version}${mirror ? ` --mirror ${shellQuote(mirror)}` : ""}\``
          : "older"
      })`,
      command: newer ? "upgrade" : "downgrade",
    });
  }
  return out;
}

/** "• add … (needs `mup cluster scale-out`, which mup cannot do yet)". */
export function renderDifference(d: Difference): string {
  return SAYS_ITS_WAY.has(d.command)
    ? `  • ${d.change}`
    : `  • ${d.change} (needs ${d.command}, which mup cannot do yet)`;
}

/**
 * Port 0 (pick a free port) in a topology given again for a recorded cluster means the port it
 * was given: the entry at the same place, on the same machine, in the recorded topology.
 */
export function recordedPorts(asked: Topology, recorded: Topology): Topology {
  const fill = <T extends { host: string; port: number }>(list: T[], was: T[]): T[] =>
    list.map((s, i) =>
      s.port === 0 && was[i] && hostKey(was[i].host) === hostKey(s.host)
        ? { ...s, port: was[i].port }
        : s
    );
  return {
    ...asked,
    config_servers: fill(asked.config_servers, recorded.config_servers),
    mongod_servers: fill(asked.mongod_servers, recorded.mongod_servers),
    mongos_servers: fill(asked.mongos_servers, recorded.mongos_servers),
  };
}

/** What one command on a running cluster changes, for refuseOtherDifferences. */
export interface OnlyChange {
  /** The kind of difference it makes. */
  command: Difference["command"];
  /** Other kinds it makes too. */
  also?: Difference["command"][];
  /** What it changes: "runtime_config", "added processes". */
  what: string;
  /** "cluster reconfigure changes runtime_config only". */
  does: string;
  /** How the recorded topology is edited for it: "change its runtime_config". */
  edit: string;
}

/**
 * Throws a MupError (file, cluster, and each difference with the command that makes it) when
 * `asked` differs from the recorded cluster in anything but `only.command`'s kind of change;
 * the hint says how to write the topology for it, and that other changes are made one command
 * at a time. `namedFile`: the file the differences' commands name (default `<topology>`).
 */
export function refuseOtherDifferences(
  recorded: ClusterShape & { name: string },
  asked: Topology,
  deployDir: string,
  file: string,
  only: OnlyChange,
  namedFile?: string,
): void {
  const name = recorded.name;
  const besides = clusterDifferences(
    recorded,
    { topology: asked, version: recorded.version, variant: recorded.variant },
    deployDir,
    name,
    undefined,
    namedFile,
  ).filter((d) => d.command !== only.command && !only.also?.includes(d.command));
  if (!besides.length) return;
  throw new MupError(
    `${file} differs from cluster ${name} in more than ${only.what}:\n${
      besides.map(renderDifference).join("\n")
    }`,
    {
      hint: `${only.does}: start from the recorded topology (\`mup cluster show-config ${name} ` +
        `> ${name}.yaml\`) and ${only.edit}; other changes are made one command at a time, ` +
        "each from the topology the one before recorded",
    },
  );
}

/**
 * Hooks run in their topology file's directory: a repair from a file elsewhere (show-config
 * saved in another directory) that records anything moves them, and relative commands and
 * paths in them would be looked up there. A warning naming both directories when it does; undefined otherwise.
 */
export function hooksMoved(
  meta: { topology_file?: string } | undefined,
  topology: Topology,
  topologyFile: string,
): ValidationIssue | undefined {
  if (!meta?.topology_file || !Object.keys(topology.hooks ?? {}).length) return undefined;
  const was = path.dirname(meta.topology_file);
  const now = path.dirname(path.resolve(topologyFile));
  if (was === now) return undefined;
  return {
    code: "hooks_moved",
    severity: "warning",
    message: `the cluster's hooks will run in ${now} (this topology file's directory), not in ` +
      `${was}, where its topology file ${meta.topology_file} had them run: relative commands ` +
      `and paths in them are looked up in ${now} once this plan is applied (plan from a file in ` +
      `${was} to keep them there)`,
  };
}
