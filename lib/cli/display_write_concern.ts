/**
 * `cluster display`'s default write concern: what the cluster applies to a write that names
 * none (getDefaultRWConcern of a primary, or of a mongos), whether it is the cluster-wide one
 * (`global`, setDefaultRWConcern) or the implicit one, and where it differs from the recorded
 * `global.default_write_concern` (changed outside mup). MongoDB manual: getDefaultRWConcern.
 */
import type { MongoAccess } from "../mongo/client.ts";
import type { ProcessStatus } from "../probe/live.ts";
import type { ClusterMeta } from "../state/meta.ts";
import { writeConcernDocument } from "../topology/schema.ts";
import { concernText, documentText } from "../plan/default_write_concern.ts";
import { sameConcern } from "../ops/set_default_write_concern.ts";
import { type DefaultsReading, readDefaults } from "../probe/default_write_concern.ts";

/**
 * getDefaultRWConcern of the first answering primary (replica set) or mongos (sharded) among
 * `rows` (readDefaults, `timeoutMs` each); undefined for a standalone, or when none answers.
 */
export function readDefaultWriteConcern(
  access: MongoAccess,
  meta: ClusterMeta,
  rows: ProcessStatus[],
  timeoutMs: number,
): Promise<DefaultsReading | undefined> {
  if (meta.kind === "standalone") return Promise.resolve(undefined);
  const asked = rows.filter((r) =>
    r.healthy && (meta.kind === "sharded" ? r.role === "mongos" : r.state === "PRIMARY")
  );
  return readDefaults(access, asked, timeoutMs);
}

/** Whether the live default is not the recorded `global.default_write_concern`. */
export function writeConcernDrift(meta: ClusterMeta, read: DefaultsReading): boolean {
  const rec = meta.topology.global.default_write_concern;
  return !!rec &&
    (read.source !== "global" || !sameConcern(read.value, writeConcernDocument(rec)));
}

/**
 * The display's `Default write concern:` line: the live one, else the recorded one said as such,
 * else "unknown" with why; undefined for a standalone whose default was not read.
 */
export function writeConcernLine(
  meta: ClusterMeta,
  read: DefaultsReading | undefined,
  /**
   * The last apply, when it did not finish and may have set it itself (a deploy or a
   * reconfigure): a difference is then its, not a change outside mup (tester73).
   */
  unfinished?: { operation: string; state_id: string },
): string | undefined {
  const rec = meta.topology.global.default_write_concern;
  // None answers (the cluster stopped): what mup recorded, said as such (tester73).
  if (!read) {
    // A mongos that answers reads it from the config servers: they may be what is down.
    const none = meta.kind === "sharded"
      ? "no mongos could read it: none answers, or none reaches the config servers"
      : "no primary answers to read it";
    // Without a record, "unknown" rather than no line: the line is not silently gone (tester85).
    return rec
      ? `Default write concern: ${concernText(rec)} (recorded; ${none})`
      : meta.kind === "standalone"
      ? undefined
      : `Default write concern: unknown (${none})`;
  }
  const mine = unfinished && ["deploy", "reconfigure"].includes(unfinished.operation)
    ? `the ${unfinished.operation} that did not finish (apply ${unfinished.state_id}) may ` +
      "have set it: its resume, or the command again, records it"
    : undefined;
  const how = read.source === "global"
    ? rec
      ? "cluster-wide"
      : mine
      ? `cluster-wide, not recorded: ${mine}`
      : "cluster-wide, set outside mup: global.default_write_concern can record it"
    : read.value
    ? "implicit"
    : "implicit: the set's arbiters leave too few voting data-bearing members for majority";
  return `Default write concern: ${documentText(read.value)} (${how})${
    rec && writeConcernDrift(meta, read)
      ? `; recorded ${concernText(rec)}: ${
        mine && read.source === "global" ? mine : "changed outside mup since (setDefaultRWConcern)"
      }`
      : ""
  }`;
}
