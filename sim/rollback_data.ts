/**
 * What a rollback undoes, and the files it keeps of it. MongoDB's rollback data files (createRollbackDataFiles, on by default): a member rolling back
 * writes each document its rolled-back oplog entries inserted or changed, as it holds it before
 * the rollback, to `<dbpath>/rollback/<collection>/removed.<time>.bson` (BSON documents one after
 * another, for bsondump or mongorestore), and logs 21609 "Preparing to write deleted documents
 * to a rollback file" with the file. MongoDB 4.4+ names the directory by the collection's UUID,
 * which the simulator does not keep: it uses the namespace, as MongoDB 4.2 did. A document the
 * rolled-back entries deleted has nothing left to write.
 * https://www.mongodb.com/docs/v7.0/core/replica-set-rollbacks/#rollback-data
 */
import { BSON, type Document, EJSON, type Timestamp } from "bson";
import * as path from "node:path";
import type { DataStore } from "./store.ts";

/** RemoveSaver's file name time: 2026-12-06T21-10-05.0 (no colons, for every filesystem). */
function fileTime(d: Date): string {
  return `${d.toISOString().slice(0, 19).replaceAll(":", "-")}.0`;
}

/**
 * Writes the rollback files of `rolledBack` (this member's oplog entries after the common
 * point, any order) from `store` as it is before the rollback; returns the files written, each
 * with its namespace. Nothing without a dbpath (a store in memory).
 */
export async function writeRollbackFiles(
  store: DataStore,
  rolledBack: Document[],
  now = new Date(),
): Promise<{ ns: string; file: string; documents: number }[]> {
  if (!store.dbpath) return [];
  const ids = new Map<string, Map<string, unknown>>();
  for (const e of rolledBack) {
    const ns = String(e.ns ?? "");
    const [db] = ns.split(".");
    // The member's own and the cluster's internal records are not the application's data.
    if (!ns || db === "local" || db === "config" || !["i", "u"].includes(e.op)) continue;
    const id = e.op === "u" ? e.o2?._id : e.o?._id;
    if (id === undefined) continue;
    const byId = ids.get(ns) ?? new Map<string, unknown>();
    byId.set(EJSON.stringify({ id }), id);
    ids.set(ns, byId);
  }
  const out: { ns: string; file: string; documents: number }[] = [];
  for (const [ns, byId] of ids) {
    const dot = ns.indexOf(".");
    const docs = [...byId.values()]
      .map((id) => store.findById(ns.slice(0, dot), ns.slice(dot + 1), id))
      .filter((d): d is Document => d !== undefined);
    if (!docs.length) continue;
    const dir = path.join(store.dbpath, "rollback", ns);
    await Deno.mkdir(dir, { recursive: true });
    const file = path.join(dir, `removed.${fileTime(now)}.bson`);
    const bytes = docs.map((d) => BSON.serialize(d));
    const all = new Uint8Array(bytes.reduce((n, b) => n + b.length, 0));
    let at = 0;
    for (const b of bytes) all.set(b, at), at += b.length;
    await Deno.writeFile(file, all);
    out.push({ ns, file, documents: docs.length });
  }
  return out;
}

/**
 * The newest of this member's oplog entries (in `store`) that its sync source has too (same ts
 * and term: `common`, undefined when none is) and this member's after it (`after`, newest
 * first): what a rollback undoes. `sourceOplog` runs a find on the source's oplog. Looked for at
 * exponentially older positions, then by halves between the last two, so the common point is
 * exact (every older entry is shared when one is) after a logarithmic number of questions.
 */
export async function divergence(
  store: DataStore,
  sourceOplog: (cmd: Document) => Promise<Document[]>,
): Promise<{ common?: Timestamp; after: Document[] }> {
  const shared = async (e: Document) => {
    const [h] = await sourceOplog({ filter: { ts: { $gte: e.ts } }, limit: 1 });
    return !!h && (h.ts as Timestamp).equals(e.ts) && Number(h.t) === Number(e.t);
  };
  for (let n = 1;; n *= 4) {
    const mine = store.oplog.tail(n);
    const oldest = mine[mine.length - 1];
    if (!oldest) return { after: mine };
    if (await shared(oldest)) {
      let lo = 0;
      let hi = mine.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (await shared(mine[mid])) hi = mid;
        else lo = mid + 1;
      }
      return { common: mine[lo].ts as Timestamp, after: mine.slice(0, lo) };
    }
    if (mine.length < n) return { after: mine };
  }
}
