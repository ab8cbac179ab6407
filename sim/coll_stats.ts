/**
 * The `$collStats` aggregation stage on a mongod: one document describing the collection, as
 * https://www.mongodb.com/docs/v7.0/reference/operator/aggregation/collStats/ documents it.
 * `storageStats` sizes are the BSON sizes of the documents and of their index keys (the
 * simulator stores documents uncompressed, so storageSize equals size); `count` counts them.
 * `latencyStats` and `queryExecStats` are not measured here and are refused rather than
 * answered with made-up figures.
 */
import { BSON, type Document } from "bson";
import { CommandError } from "./errors.ts";
import type { DataStore } from "./store.ts";

/** Whether the pipeline starts with $collStats (anywhere else it is refused by checkCollStats). */
export function startsWithCollStats(pipeline: unknown): boolean {
  return Array.isArray(pipeline) && pipeline[0]?.$collStats !== undefined;
}

/** MongoDB's refusals of a malformed $collStats: not first (40602), bad spec (5447000), unsupported. */
export function checkCollStats(pipeline: Document[]): Document {
  pipeline.slice(1).forEach((st) => {
    if (st?.$collStats !== undefined) {
      throw new CommandError(
        "$collStats is only valid as the first stage in a pipeline",
        40602,
        "Location40602",
      );
    }
  });
  const spec = pipeline[0].$collStats;
  if (typeof spec !== "object" || spec === null || Array.isArray(spec)) {
    throw new CommandError(
      "$collStats must take a nested object but found: " + JSON.stringify(spec),
      5447000,
      "Location5447000",
    );
  }
  for (const k of Object.keys(spec)) {
    if (k === "latencyStats" || k === "queryExecStats") {
      throw new CommandError(
        `$collStats ${k} is not supported by this server`,
        115,
        "CommandNotSupported",
      );
    }
    if (k !== "storageStats" && k !== "count") {
      throw new CommandError(
        `BSON field '$collStats.${k}' is an unknown field.`,
        40415,
        "Location40415",
      );
    }
  }
  return spec;
}

function keyOf(doc: Document, key: Document): Document {
  const out: Document = {};
  for (const f of Object.keys(key)) {
    let v: unknown = doc;
    for (const part of f.split(".")) v = (v as Document | undefined)?.[part];
    out[f] = v ?? null;
  }
  return out;
}

/** The storageStats of documents with these indexes; sizes in bytes divided by `scale`. */
export function storageStatsOf(
  docs: Document[],
  indexes: Document[],
  scale = 1,
  orphans = 0,
): Document {
  const size = docs.reduce((n, d) => n + BSON.calculateObjectSize(d), 0);
  const indexSizes: Document = {};
  for (const ix of indexes) {
    // An index entry: the key's BSON and a record id (8 bytes), as a B-tree leaf holds it.
    indexSizes[ix.name] = Math.floor(
      docs.reduce((n, d) => n + BSON.calculateObjectSize(keyOf(d, ix.key)) + 8, 0) / scale,
    );
  }
  const totalIndexSize = Object.values(indexSizes).reduce((a: number, b) => a + Number(b), 0);
  return {
    size: Math.floor(size / scale),
    count: docs.length,
    avgObjSize: docs.length ? Math.floor(size / docs.length) : 0,
    numOrphanDocs: orphans,
    storageSize: Math.floor(size / scale),
    freeStorageSize: 0,
    capped: false,
    nindexes: indexes.length,
    indexBuilds: [],
    totalIndexSize,
    totalSize: Math.floor(size / scale) + totalIndexSize,
    indexSizes,
    scaleFactor: scale,
  };
}

/** local.oplog.rs's storageStats: a capped collection of `maxSize` bytes, without indexes. */
function oplogStats(store: DataStore, scale: number): Document {
  const { count, bytes } = store.oplog.size();
  return {
    size: Math.floor(bytes / scale),
    count,
    avgObjSize: count ? Math.floor(bytes / count) : 0,
    numOrphanDocs: 0,
    storageSize: Math.floor(bytes / scale),
    freeStorageSize: 0,
    capped: true,
    max: 0,
    maxSize: Math.floor(store.oplog.capBytes / scale),
    nindexes: 0,
    indexBuilds: [],
    totalIndexSize: 0,
    totalSize: Math.floor(bytes / scale),
    indexSizes: {},
    scaleFactor: scale,
  };
}

/**
 * The $collStats document of db.coll on this server; 26 when the collection does not exist.
 * `replica` says this is a replica-set member, which has local.oplog.rs.
 */
export function collStatsDoc(
  store: DataStore,
  host: string,
  db: string,
  coll: string,
  spec: Document,
  replica = false,
): Document {
  if (replica && db === "local" && coll === "oplog.rs") {
    const scale = Number(spec.storageStats?.scale ?? 1) || 1;
    const stats = oplogStats(store, scale);
    return {
      ns: "local.oplog.rs",
      host,
      localTime: new Date(),
      ...(spec.storageStats !== undefined ? { storageStats: stats } : {}),
      ...(spec.count !== undefined ? { count: stats.count } : {}),
    };
  }
  const c = store.coll(db, coll);
  if (!c) {
    throw new CommandError(
      `Unable to retrieve storageStats in $collStats stage :: caused by :: Collection [${db}.${coll}] not found.`,
      26,
      "NamespaceNotFound",
    );
  }
  const docs = [...c.docs.values()];
  const out: Document = { ns: `${db}.${coll}`, host, localTime: new Date() };
  if (spec.storageStats !== undefined) {
    const scale = Number(spec.storageStats?.scale ?? 1);
    if (!Number.isInteger(scale) || scale < 1) {
      throw new CommandError(
        `BSON field 'scale' value must be >= 1, actual value '${scale}'`,
        51024,
        "Location51024",
      );
    }
    out.storageStats = storageStatsOf(docs, c.indexes, scale);
  }
  if (spec.count !== undefined) out.count = docs.length;
  return out;
}

/**
 * `dbStats` of one database on this server
 * (https://www.mongodb.com/docs/v7.0/reference/command/dbStats/): collections, objects, data and
 * index sizes (BSON sizes, as storageStatsOf counts them) divided by `scale`. The filesystem
 * fields (fsUsedSize, fsTotalSize) are left out: the simulator does not measure them.
 */
export function dbStatsDoc(store: DataStore, db: string, scale = 1): Document {
  if (!Number.isInteger(scale) || scale < 1) {
    throw new CommandError("scale has to be > 0", 51024, "Location51024");
  }
  let objects = 0, dataSize = 0, indexes = 0, indexSize = 0;
  const colls = store.dbs.get(db) ?? new Map();
  for (const c of colls.values()) {
    const s = storageStatsOf([...c.docs.values()], c.indexes);
    objects += s.count;
    dataSize += s.size;
    indexes += s.nindexes;
    indexSize += s.totalIndexSize;
  }
  const div = (n: number) => Math.floor(n / scale);
  return {
    db,
    collections: colls.size,
    views: 0,
    objects,
    avgObjSize: objects ? Math.floor(dataSize / objects) : 0,
    dataSize: div(dataSize),
    storageSize: div(dataSize),
    indexes,
    indexSize: div(indexSize),
    totalSize: div(dataSize + indexSize),
    scaleFactor: scale,
  };
}
