/**
 * What a `cluster reconfigure` topology changes against the recorded one: which processes'
 * configuration files differ (and how), what else it changes that a reconfigure refuses, and
 * which settings were fixed when the data files were made. Pure.
 */
import type { Topology } from "../topology/schema.ts";
import { canonical } from "./redeploy.ts";
import { BY_YAML } from "../mongo/server_options.ts";
import { hostKey } from "../topology/hosts.ts";
import { withMemberOptions } from "./member_options.ts";
import { deployConfigSecurity, renderConfig } from "./mongo_config.ts";
import { configDbString, listProcesses, listReplicaSets, type ProcessSpec } from "./processes.ts";

/**
 * The processes whose configuration file differs between the recorded topology and `asked`,
 * each with the new file's content.
 */
export function changedConfigs(
  recorded: Topology,
  asked: Topology,
  deployDir: string,
  /** Every process, changed or not (after an unfinished reconfigure). */
  all = false,
): { proc: ProcessSpec; content: string; changes: string; delta: RuntimeDelta }[] {
  const root = (t: Topology) => t.global.deploy_dir ?? deployDir;
  const before = listProcesses(recorded, deployDir);
  const after = new Map(listProcesses(asked, deployDir).map((p) => [p.id, p]));
  const cfg = (ps: ProcessSpec[]) => configDbString(listReplicaSets(ps).find((s) => s.configsvr));
  const oldDb = cfg(before), newDb = cfg([...after.values()]);
  const oldSec = deployConfigSecurity(recorded, root(recorded));
  const newSec = deployConfigSecurity(asked, root(asked));
  return before.flatMap((p) => {
    const a = after.get(p.id);
    if (!a) return [];
    const content = renderConfig(a, newDb, newSec(a));
    return !all && content === renderConfig(p, oldDb, oldSec(p))
      ? []
      : [{ proc: p, content, changes: runtimeChanges(p, a), delta: runtimeDelta(p, a) }];
  });
}

/**
 * `recorded` with the runtime_config of `from` (global, and each entry's, matched by machine and
 * port): what a reconfigure records, and may change. Everything else stays as recorded.
 */
export function withRuntimeConfigs(recorded: Topology, from: Topology): Topology {
  const own = (list: { host: string; port: number; runtime_config?: Record<string, unknown> }[]) =>
    new Map(list.map((e) => [`${hostKey(e.host)}:${e.port}`, e.runtime_config]));
  const swap = <T extends { host: string; port: number; runtime_config?: unknown }>(
    list: T[],
    theirs: Map<string, Record<string, unknown> | undefined>,
  ): T[] =>
    list.map((e) => {
      const { runtime_config: _, ...rest } = e;
      const rc = theirs.get(`${hostKey(e.host)}:${e.port}`);
      return (rc === undefined ? rest : { ...rest, runtime_config: rc }) as T;
    });
  const { runtime_config: _, ...global } = recorded.global;
  return {
    ...recorded,
    global: from.global.runtime_config === undefined
      ? global
      : { ...global, runtime_config: from.global.runtime_config },
    config_servers: swap(recorded.config_servers, own(from.config_servers)),
    mongod_servers: swap(recorded.mongod_servers, own(from.mongod_servers)),
    mongos_servers: swap(recorded.mongos_servers, own(from.mongos_servers)),
  };
}

/**
 * The fields besides runtime_config and members' priority, votes and hidden in which `asked`
 * differs from `recorded` ("hooks", "global.user", "mongod_servers[0].ssh_port"): a reconfigure
 * changes none of them.
 */
export function otherChanges(recorded: Topology, asked: Topology): string[] {
  const a = withMemberOptions(withRuntimeConfigs(asked, recorded), recorded);
  const out: string[] = [];
  const compare = (x: Record<string, unknown>, y: Record<string, unknown>, at: string) => {
    for (const k of new Set([...Object.keys(x), ...Object.keys(y)])) {
      if (k === "runtime_config" || canonical(x[k]) === canonical(y[k])) continue;
      const isList = Array.isArray(x[k]) && Array.isArray(y[k]);
      if (isList && (x[k] as unknown[]).length === (y[k] as unknown[]).length) {
        (x[k] as Record<string, unknown>[]).forEach((e, i) =>
          compare(e, (y[k] as Record<string, unknown>[])[i], `${at}${k}[${i}].`)
        );
      } else if (k === "global") {
        compare(x[k] as Record<string, unknown>, y[k] as Record<string, unknown>, "global.");
      } else out.push(`${at}${k}`);
    }
  };
  compare(
    recorded as unknown as Record<string, unknown>,
    a as unknown as Record<string, unknown>,
    "",
  );
  return out;
}

/**
 * The settings fixed when a member's data files were made (storage.engine, directoryPerDB,
 * directoryForIndexes) that `asked` changes, as "mongod-localhost-27017: storage.directoryPerDB
 * (unset) → true": mongod refuses to start on existing data with another value.
 */
export function fixedChanges(recorded: Topology, asked: Topology, deployDir: string): string[] {
  const after = new Map(listProcesses(asked, deployDir).map((p) => [p.id, p]));
  return listProcesses(recorded, deployDir).flatMap((p) => {
    const a = after.get(p.id);
    if (!a || p.role === "mongos") return [];
    const was = flat(p.runtimeConfig), now = flat(a.runtimeConfig);
    // Unset is the default (wiredTiger, false): writing the default out changes nothing.
    const value = (m: Map<string, string>, k: string) =>
      m.get(k) ?? JSON.stringify(BY_YAML.get(k)!.fixedAtInit!.default);
    const same = (a: string, b: string) => a === b || a === JSON.stringify(String(JSON.parse(b)));
    return [...new Set([...was.keys(), ...now.keys()])]
      .filter((k) => BY_YAML.get(k)?.fixedAtInit)
      .filter((k) => !same(value(was, k), value(now, k)) && !same(value(now, k), value(was, k)))
      .map((k) => `${p.id}: ${k} ${was.get(k) ?? "(unset)"} → ${now.get(k) ?? "(unset)"}`);
  });
}

/** Every leaf of a runtime_config as dotted key → JSON value. */
function flat(rc: Record<string, unknown>, at = "", out = new Map<string, string>()) {
  for (const [k, v] of Object.entries(rc)) {
    const key = at ? `${at}.${k}` : k;
    if (v !== null && typeof v === "object" && !Array.isArray(v)) {
      flat(v as Record<string, unknown>, key, out);
    } else out.set(key, JSON.stringify(v));
  }
  return out;
}

/**
 * The runtime_config keys that differ, dotted, with their values before and after ("(unset)"
 * where a side has none): what `plan diff` shows of a configuration file's update.
 */
export interface RuntimeDelta {
  before: Record<string, unknown>;
  after: Record<string, unknown>;
}

/** The RuntimeDelta of a process's configuration from `before` to `after`. */
export function runtimeDelta(before: ProcessSpec, after: ProcessSpec): RuntimeDelta {
  const a = flat(before.runtimeConfig), b = flat(after.runtimeConfig);
  const keys = [...new Set([...a.keys(), ...b.keys()])].filter((k) => a.get(k) !== b.get(k))
    .sort();
  const value = (m: Map<string, string>, k: string) => m.has(k) ? JSON.parse(m.get(k)!) : "(unset)";
  return {
    before: Object.fromEntries(keys.map((k) => [k, value(a, k)])),
    after: Object.fromEntries(keys.map((k) => [k, value(b, k)])),
  };
}

/** "operationProfiling.slowOpThresholdMs 100 → 250", one per changed key (at most 3 shown). */
export function runtimeChanges(before: ProcessSpec, after: ProcessSpec): string {
  const a = flat(before.runtimeConfig), b = flat(after.runtimeConfig);
  const keys = [...new Set([...a.keys(), ...b.keys()])].filter((k) => a.get(k) !== b.get(k))
    .sort();
  const shown = keys.slice(0, 3).map((k) =>
    `${k} ${a.get(k) ?? "(unset)"} → ${b.get(k) ?? "(unset)"}`
  );
  return shown.join(", ") + (keys.length > 3 ? `, and ${keys.length - 3} more` : "");
}
