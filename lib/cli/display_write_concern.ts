/**
 * `cluster display`'s default write concern: what the cluster applies to a write that names
 * none (getDefaultRWConcern of a primary, or of a mongos), whether it is the cluster-wide one
 * (`global`, setDefaultRWConcern) or the implicit one, and where it differs from the recorded
 * `global.default_write_concern` (changed outside mup). MongoDB manual: getDefaultRWConcern.
 */
import type { Document } from "mongodb";
import type { MongoAccess } from "../mongo/client.ts";
import type { ProcessStatus } from "../probe/live.ts";
import type { ClusterMeta } from "../state/meta.ts";
import { writeConcernDocument } from "../topology/schema.ts";
import { concernText, documentText } from "../plan/default_write_concern.ts";
import { sameConcern } from "../ops/set_default_write_concern.ts";

/** The default write concern read live: `value` (absent: an implicit `{w: 1}`), `source`. */
export interface WriteConcernReading {
  value?: Document;
  source: "global" | "implicit";
}

/**
 * getDefaultRWConcern of the first answering primary (replica set) or mongos (sharded) among
 * `rows`; undefined for a standalone, or when none answers (within `timeoutMs` each).
 */
export async function readDefaultWriteConcern(
  access: MongoAccess,
  meta: ClusterMeta,
  rows: ProcessStatus[],
  timeoutMs: number,
): Promise<WriteConcernReading | undefined> {
  if (meta.kind === "standalone") return undefined;
  const asked = rows.filter((r) =>
    r.healthy && (meta.kind === "sharded" ? r.role === "mongos" : r.state === "PRIMARY")
  );
  for (const r of asked) {
    const d = await access.adminCommand(r.host, r.port, { getDefaultRWConcern: 1 }, timeoutMs)
      .catch(() => undefined);
    if (!d) continue;
    const wc = d.defaultWriteConcern as Document | undefined;
    // 4.4 has no defaultWriteConcernSource: a value there is one set.
    const source = d.defaultWriteConcernSource ?? (wc ? "global" : "implicit");
    return { ...(wc ? { value: wc } : {}), source: source === "global" ? "global" : "implicit" };
  }
  return undefined;
}

/** Whether the live default is not the recorded `global.default_write_concern`. */
export function writeConcernDrift(meta: ClusterMeta, read: WriteConcernReading): boolean {
  const rec = meta.topology.global.default_write_concern;
  return !!rec &&
    (read.source !== "global" || !sameConcern(read.value, writeConcernDocument(rec)));
}

/** The display's `Default write concern:` line; undefined when it could not be read. */
export function writeConcernLine(
  meta: ClusterMeta,
  read: WriteConcernReading | undefined,
): string | undefined {
  if (!read) return undefined;
  const rec = meta.topology.global.default_write_concern;
  const how = read.source === "global"
    ? rec
      ? "cluster-wide"
      : "cluster-wide, set outside mup: global.default_write_concern can record it"
    : read.value
    ? "implicit"
    : "implicit: the set's arbiters leave too few voting data-bearing members for majority";
  return `Default write concern: ${documentText(read.value)} (${how})${
    rec && writeConcernDrift(meta, read)
      ? `; recorded ${concernText(rec)}: changed outside mup since (setDefaultRWConcern)`
      : ""
  }`;
}
