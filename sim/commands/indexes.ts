/** createIndexes, listIndexes, dropIndexes; unique indexes are enforced by the write commands. */
import type { Document } from "bson";
import { CommandError } from "../errors.ts";
import { indexKey } from "../query.ts";
import type { Handler } from "../server.ts";
import { runWrite } from "../writes.ts";
import { collField } from "./write_checks.ts";
import { isNumeric, text, typeName } from "../update_checks.ts";

/** The index specification fields the simulator acts on (background is a no-op since 4.2). */
const INDEX_OPTIONS = new Set(["key", "name", "unique", "v", "background", "ns"]);

/**
 * The other fields mongod knows in an index specification (index_key_validate.cpp,
 * allowedFieldNames): the simulator refuses them as not supported (67); any field besides these
 * is not an index option at all (197).
 */
const KNOWN_OPTIONS = new Set([
  "sparse",
  "partialFilterExpression",
  "expireAfterSeconds",
  "collation",
  "hidden",
  "prepareUnique",
  "storageEngine",
  "weights",
  "default_language",
  "language_override",
  "textIndexVersion",
  "2dsphereIndexVersion",
  "bits",
  "min",
  "max",
  "bucketSize",
  "wildcardProjection",
  "coarsestIndexedLevel",
  "finestIndexedLevel",
  "clustered",
  "columnstoreProjection",
  "columnstoreCompressor",
  "dropDups",
]);

function sameKey(a: Document, b: Document): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * What index_key_validate.cpp refuses in a specification the simulator would otherwise build:
 * a key value of 0 or of another type than a number or string (67), an index version other
 * than 1 or 2 (67), `unique` on the _id index (197) or on a hashed key (16764).
 */
function keySpecChecks(s: Document): void {
  for (const v of Object.values(s.key as Document)) {
    if (typeof v === "string") continue;
    if (typeof v !== "number" && !isNumeric(v)) {
      throw new CommandError(
        `Values in v:2 index key pattern cannot be of type ${typeName(v)}. Only numbers > 0, ` +
          "numbers < 0, and strings are allowed.",
        67,
        "CannotCreateIndex",
      );
    }
    if (Number(v) === 0) {
      throw new CommandError(
        "Values in the index key pattern can't be 0.",
        67,
        "CannotCreateIndex",
      );
    }
  }
  if (s.v !== undefined && Number(s.v) !== 1 && Number(s.v) !== 2) {
    throw new CommandError(
      `Invalid index specification ${text(s)}; cannot create an index with v=${text(s.v)}`,
      67,
      "CannotCreateIndex",
    );
  }
  if (s.unique !== undefined && s.name === "_id_" && sameKey(s.key, { _id: 1 })) {
    throw new CommandError(
      `The field 'unique' is not valid for an _id index specification. Specification: ${text(s)}`,
      197,
      "InvalidIndexSpecificationOption",
    );
  }
  if (s.unique && Object.values(s.key as Document).includes("hashed")) {
    throw new CommandError(
      "Currently hashed indexes cannot guarantee uniqueness. Use a regular index.",
      16764,
      "Location16764",
    );
  }
}

const createIndexes: Handler = (ctx) => {
  const coll = collField(ctx, "createIndexes");
  const specs = ctx.body.indexes as Document[];
  if (!Array.isArray(specs) || specs.length === 0) {
    throw new CommandError("Must specify at least one index to create", 2, "BadValue");
  }
  return runWrite(ctx, (apply) => {
    const store = ctx.server.store;
    const had = store.coll(ctx.db, coll);
    const before = had?.indexes.length ?? 1;
    const existing = [...(had?.indexes ?? [{ v: 2, key: { _id: 1 }, name: "_id_" }])];
    const fresh: Document[] = [];
    for (const s of specs) {
      if (!s.key || typeof s.key !== "object" || Object.keys(s.key).length === 0) {
        throw new CommandError("Index keys cannot be empty.", 67, "CannotCreateIndex");
      }
      if (typeof s.name !== "string" || !s.name) {
        throw new CommandError(
          "Error in specification { key: ... } :: caused by :: The 'name' field is a required property of an index specification",
          9,
          "FailedToParse",
        );
      }
      // Options the simulator would keep but not act on are refused, not accepted and dropped
      // (a TTL, partial, sparse, collated or hidden index answered ok:1 and did nothing: tester62).
      for (const option of Object.keys(s)) {
        if (INDEX_OPTIONS.has(option)) continue;
        if (!KNOWN_OPTIONS.has(option)) {
          throw new CommandError(
            `The field '${option}' is not valid for an index specification. Specification: ${
              text(s)
            }`,
            197,
            "InvalidIndexSpecificationOption",
          );
        }
        throw new CommandError(
          `Index option '${option}' is not supported by this server`,
          67,
          "CannotCreateIndex",
        );
      }
      for (const v of Object.values(s.key)) {
        if (typeof v === "string" && v !== "hashed") {
          throw new CommandError(
            `Index type '${v}' is not supported by this server`,
            67,
            "CannotCreateIndex",
          );
        }
      }
      keySpecChecks(s);
      const byName = existing.find((x) => x.name === s.name);
      const byKey = existing.find((x) => sameKey(x.key, s.key));
      if (byName && !sameKey(byName.key, s.key)) {
        throw new CommandError(
          `An existing index has the same name as the requested index. When index names are not specified, they are auto generated and can cause conflicts. Please refer to our documentation. Requested index: { v: 2, key: ${
            JSON.stringify(s.key)
          }, name: "${s.name}" }, existing index: { v: 2, key: ${
            JSON.stringify(byName.key)
          }, name: "${byName.name}" }`,
          86,
          "IndexKeySpecsConflict",
        );
      }
      if (byKey && byKey.name !== s.name) {
        throw new CommandError(
          `Index already exists with a different name: ${byKey.name}`,
          85,
          "IndexOptionsConflict",
        );
      }
      if (byKey) {
        if (Boolean(byKey.unique) !== Boolean(s.unique)) {
          throw new CommandError(
            "An equivalent index already exists with the same name but different options. " +
              `Requested index: ${text(s)}, existing index: ${text(byKey)}`,
            85,
            "IndexOptionsConflict",
          );
        }
        continue;
      }
      const spec: Document = {
        v: s.v === undefined ? 2 : Number(s.v),
        key: s.key,
        name: s.name,
        ...(s.unique ? { unique: true } : {}),
      };
      if (s.unique) {
        const seen = new Set<string>();
        for (const d of store.docs(ctx.db, coll)) {
          const k = JSON.stringify(indexKey(d, s.key));
          if (seen.has(k)) {
            throw new CommandError(
              `Index build failed: E11000 duplicate key error collection: ${ctx.db}.${coll} index: ${s.name} dup key: ${k}`,
              11000,
              "DuplicateKey",
            );
          }
          seen.add(k);
        }
      }
      // 64 indexes per collection, _id's included (MongoDB's limits page).
      if (existing.length >= 64) {
        throw new CommandError(
          `add index fails, too many indexes for ${ctx.db}.${coll} key:${JSON.stringify(s.key)}`,
          67,
          "CannotCreateIndex",
        );
      }
      existing.push(spec);
      fresh.push(spec);
    }
    if (!had) apply({ op: "c", ns: `${ctx.db}.$cmd`, o: { create: coll } });
    for (const spec of fresh) {
      apply({ op: "c", ns: `${ctx.db}.$cmd`, o: { createIndexes: coll, ...spec } });
    }
    return {
      numIndexesBefore: before,
      numIndexesAfter: before + fresh.length,
      createdCollectionAutomatically: !had,
      ...(fresh.length === 0 ? { note: "all indexes already exist" } : {}),
    };
  });
};

const listIndexes: Handler = (ctx) => {
  const coll = collField(ctx, "listIndexes");
  ctx.server.role?.checkReadable(ctx.body);
  const c = ctx.server.store.coll(ctx.db, coll);
  if (!c) {
    throw new CommandError(`ns does not exist: ${ctx.db}.${coll}`, 26, "NamespaceNotFound");
  }
  return ctx.server.newCursor(
    `${ctx.db}.${coll}`,
    c.indexes,
    Number(ctx.body.cursor?.batchSize ?? 101),
  );
};

const dropIndexes: Handler = (ctx) => {
  const coll = collField(ctx, "dropIndexes");
  return runWrite(ctx, (apply) => {
    const c = ctx.server.store.coll(ctx.db, coll);
    if (!c) throw new CommandError(`ns not found ${ctx.db}.${coll}`, 26, "NamespaceNotFound");
    const nIndexesWas = c.indexes.length;
    const want = ctx.body.index;
    const names: string[] = want === "*"
      ? ["*"]
      : Array.isArray(want)
      ? want.map(String)
      : typeof want === "string"
      ? [want]
      : [c.indexes.find((x) => sameKey(x.key, want ?? {}))?.name ?? JSON.stringify(want)];
    for (const name of names) {
      if (name === "_id_") {
        throw new CommandError("cannot drop _id index", 72, "InvalidOptions");
      }
      if (name !== "*" && !c.indexes.some((x) => x.name === name)) {
        throw new CommandError(`index not found with name [${name}]`, 27, "IndexNotFound");
      }
    }
    for (const name of names) {
      apply({ op: "c", ns: `${ctx.db}.$cmd`, o: { dropIndexes: coll, index: name } });
    }
    return {
      nIndexesWas,
      ...(want === "*" ? { msg: "non-_id indexes dropped for collection" } : {}),
    };
  });
};

export const indexCommands: Record<string, Handler> = { createIndexes, listIndexes, dropIndexes };
