/**
 * The simulator sorts as MongoDB does ("Comparison/Sort Order" in the manual), through the
 * official driver: values of different types by type, an array by its smallest element when
 * ascending and its largest when descending, an empty array before null and a missing field;
 * sort directions other than 1 and -1 are refused with mongod's codes.
 */
import assert from "node:assert/strict";
import { type Document, MongoServerError, ObjectId } from "mongodb";
import { withMongod } from "./sim_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

type Doc = { _id: number; [field: string]: unknown };

const DOCS = [
  { _id: 1, a: [3, 9] },
  { _id: 2, a: 5 },
  { _id: 3 },
  { _id: 4, a: null },
  { _id: 5, a: [] },
  { _id: 6, a: "s" },
  { _id: 7, a: { x: 1 } },
  { _id: 8, a: [1, "z"] },
  { _id: 9, a: new ObjectId("000000000000000000000001") },
  { _id: 10, a: true },
  { _id: 11, a: new Date(0) },
];

// Ascending keys: [] first, null and missing, numbers (8 by 1, 1 by 3, 2), strings, objects,
// ObjectId, booleans, dates. Descending keys: 8 by "z", 1 by 9.
const ASCENDING = [5, 3, 4, 8, 1, 2, 6, 7, 9, 10, 11];
const DESCENDING = [11, 10, 9, 7, 8, 6, 1, 2, 3, 4, 5];

Deno.test("simulator: find and $sort order arrays, mixed types, null, missing and empty arrays as MongoDB does (tester86)", async () => {
  await withMongod(async (c) => {
    const coll = c.db("app").collection<Doc>("sorted");
    await coll.insertMany(DOCS);
    const ids = (docs: Document[]) => docs.map((d) => d._id);
    assert.deepEqual(ids(await coll.find().sort({ a: 1, _id: 1 }).toArray()), ASCENDING);
    assert.deepEqual(ids(await coll.find().sort({ a: -1, _id: 1 }).toArray()), DESCENDING);
    assert.deepEqual(
      ids(await coll.aggregate([{ $sort: { a: 1, _id: 1 } }]).toArray()),
      ASCENDING,
    );
    // A $sort between other stages, and a limit after it.
    assert.deepEqual(
      ids(
        await coll.aggregate([
          { $match: { _id: { $lte: 8 } } },
          { $sort: { a: -1, _id: 1 } },
          { $limit: 3 },
          { $project: { _id: 1 } },
        ]).toArray(),
      ),
      [7, 8, 6],
    );
    // Dotted paths through arrays of embedded documents: the smallest or largest of them.
    const nested = c.db("app").collection<Doc>("nested");
    await nested.insertMany([
      { _id: 1, r: [{ v: 4 }, { v: 10 }] },
      { _id: 2, r: [{ v: 6 }] },
      { _id: 3, r: { v: 5 } },
    ]);
    assert.deepEqual(ids(await nested.find().sort({ "r.v": 1 }).toArray()), [1, 3, 2]);
    assert.deepEqual(ids(await nested.find().sort({ "r.v": -1 }).toArray()), [1, 2, 3]);
    // An embedded document without the field has a null key: first ascending (tester92).
    const holes = c.db("app").collection<Doc>("holes");
    await holes.insertMany([{ _id: 1, a: { b: 1 } }, { _id: 2, a: [{ b: 5 }, {}] }]);
    assert.deepEqual(ids(await holes.find().sort({ "a.b": 1 }).toArray()), [2, 1]);
    // A $sort inside $facet and a $lookup's pipeline sorts the same way (tester92).
    const arrs = c.db("app").collection<Doc>("arrs");
    await arrs.insertMany([{ _id: 1, a: [3, 1] }, { _id: 2, a: 2 }]);
    const [facet] = await arrs.aggregate([{ $facet: { x: [{ $sort: { a: -1 } }] } }]).toArray();
    assert.deepEqual(ids(facet.x), [1, 2]);
    const [joined] = await arrs.aggregate([
      { $limit: 1 },
      { $lookup: { from: "arrs", pipeline: [{ $sort: { a: -1 } }], as: "j" } },
    ]).toArray();
    assert.deepEqual(ids(joined.j), [1, 2]);
    // Numbers of different BSON types compare by value; NaN before every other number.
    const nums = c.db("app").collection<Doc>("nums");
    await nums.insertMany([{ _id: 1, n: 2.5 }, { _id: 2, n: NaN }, { _id: 3, n: -1 }, {
      _id: 4,
      n: 2,
    }]);
    assert.deepEqual(ids(await nums.find().sort({ n: 1 }).toArray()), [2, 3, 4, 1]);
    // $push's $sort compares an embedded array whole, by type first.
    await nums.updateOne({ _id: 1 }, {
      $push: { p: { $each: [{ k: [2] }, { k: "b" }, { k: 1 }, {}], $sort: { k: 1 } } },
    } as never);
    assert.deepEqual((await nums.findOne({ _id: 1 }))?.p, [{}, { k: 1 }, { k: "b" }, {
      k: [2],
    }]);
  });
});

Deno.test("simulator: a sort direction other than 1 and -1 is refused with mongod's code, in find and in $sort", async () => {
  await withMongod(async (c) => {
    const coll = c.db("app").collection<Doc>("bad");
    await coll.insertOne({ _id: 1, a: 1 });
    const refused = async (p: Promise<unknown>, code: number) => {
      const e = await p.then(() => undefined, (e) => e);
      assert.ok(e instanceof MongoServerError, `expected code ${code}, got ${e}`);
      assert.equal(e.code, code, e.message);
    };
    // The driver refuses such a sort itself: the find command is sent as another client would.
    const find = (sort: Document) => c.db("app").command({ find: "bad", sort });
    await refused(find({ a: 2 }), 15975);
    await refused(find({ a: 0 }), 15975);
    await refused(find({ a: "asc" }), 15974);
    await refused(coll.aggregate([{ $sort: { a: 1, b: 0.5 } }]).toArray(), 15975);
    await refused(coll.aggregate([{ $sort: { a: true } }]).toArray(), 15974);
    await refused(coll.aggregate([{ $sort: { a: { $max: 1 } } }]).toArray(), 17312);
    await refused(coll.aggregate([{ $sort: {} }]).toArray(), 15976);
    // 1 and -1 of any numeric type are directions.
    assert.equal((await coll.aggregate([{ $sort: { a: -1.0 } }]).toArray()).length, 1);
  });
});
