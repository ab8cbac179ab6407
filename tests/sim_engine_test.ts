/**
 * What the simulator's query engine answers as mongod does (tester100, tester102): the field
 * order of projections, expressions it adds or corrects ($indexOfCP, $dateFromString), the
 * CRUD commands' strict fields, `$type` in filters, and updates of decimals, longs and array
 * paths computed or refused as mongod computes or refuses them. Through the official driver.
 */
import assert from "node:assert/strict";
import { Decimal128, type Document, Long, MongoServerError, ObjectId, Timestamp } from "mongodb";
import { refusedWith, withMongod } from "./sim_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

type Doc = { _id: number; n?: number; [field: string]: unknown };

Deno.test("simulator: an inclusion projection keeps the stored field order, computed fields after ($project, find); $indexOfCP; $dateFromString refuses impossible dates (241) or answers onError (tester100 #7)", async () => {
  await withMongod(async (c) => {
    const s = c.db("app").collection<Doc>("o");
    await s.insertOne({ _id: 1, b: 2, a: 1, c: { y: 1, x: 2 }, s: "h\u00e9llo w\u00f6rld" });
    const project = async (p: Document) =>
      JSON.stringify(await s.aggregate([{ $project: p }]).toArray());
    // projection_node.cpp applyProjections: the input's order, then computed fields.
    assert.equal(await project({ a: 1, b: 1 }), '[{"_id":1,"b":2,"a":1}]');
    assert.equal(await project({ z: "$a", a: 1 }), '[{"_id":1,"a":1,"z":1}]');
    assert.equal(
      await project({ "c.x": 1, "c.w": "$b", a: 1 }),
      '[{"_id":1,"a":1,"c":{"x":2,"w":2}}]',
    );
    assert.equal(await project({ a: 0, s: 0 }), '[{"_id":1,"b":2,"c":{"y":1,"x":2}}]');
    const facet = await s.aggregate([{ $facet: { f: [{ $project: { a: 1, b: 1 } }] } }]).toArray();
    assert.equal(JSON.stringify(facet[0].f), '[{"_id":1,"b":2,"a":1}]');
    assert.equal(
      JSON.stringify(await s.find({}, { projection: { a: 1, b: 1 } }).toArray()),
      '[{"_id":1,"b":2,"a":1}]',
    );

    const value = async (e: Document) =>
      (await s.aggregate([{ $project: { _id: 0, r: e } }]).toArray())[0].r;
    const refused = async (e: Document, code: number) => {
      const err = await value(e).then(() => undefined, (x) => x);
      assert.ok(err instanceof MongoServerError, `${JSON.stringify(e)}: ${err}`);
      assert.equal(err.code, code, err.message);
    };
    // Code points, not bytes or UTF-16 units; the end is exclusive.
    assert.equal(await value({ $indexOfCP: ["$s", "w"] }), 6);
    assert.equal(await value({ $indexOfCP: ["$s", "w", 0, 6] }), -1);
    assert.equal(await value({ $indexOfCP: ["$missing", "w"] }), null);
    await refused({ $indexOfCP: [5, "w"] }, 40093);
    await refused({ $indexOfCP: ["$s", 5] }, 40094);
    await refused({ $indexOfCP: ["$s", "w", 1.5] }, 40096);
    await refused({ $indexOfCP: ["$s", "w", -1] }, 40097);

    assert.deepEqual(
      await value({ $dateFromString: { dateString: "2024-02-29" } }),
      new Date("2024-02-29T00:00:00Z"),
    );
    await refused({ $dateFromString: { dateString: "2023-02-29" } }, 241);
    await refused({ $dateFromString: { dateString: "not a date" } }, 241);
    await refused({ $dateFromString: { dateString: 5 } }, 241);
    // Offsets, a space for the T, any fraction; a zone's daylight saving time (tester102).
    const at = async (spec: Document) =>
      (await value({ $dateFromString: spec }) as Date).toISOString();
    assert.equal(
      await at({ dateString: "2017-07-14T12:02:44.771+03:30" }),
      "2017-07-14T08:32:44.771Z",
    );
    assert.equal(await at({ dateString: "2017-07-06 11:36:54" }), "2017-07-06T11:36:54.000Z");
    assert.equal(await at({ dateString: "2017-07-04T11:56:02.81Z" }), "2017-07-04T11:56:02.810Z");
    assert.equal(
      await at({ dateString: "2023-06-15T10:00:00", timezone: "America/New_York" }),
      "2023-06-15T14:00:00.000Z",
    );
    assert.equal(
      await at({ dateString: "2023-06-15 10:00 +0100", format: "%Y-%m-%d %H:%M %z" }),
      "2023-06-15T09:00:00.000Z",
    );
    await refused({ $dateFromString: { dateString: "31/06/2023", format: "%d/%m/%Y" } }, 241);
    await refused({ $dateFromString: { dateString: "2017", format: "%n" } }, 18536);
    await refused({ $dateFromString: { dateString: "2017", bogus: 1 } }, 40541);
    // A form mongod reads that the simulator does not parse is refused, never answered.
    await refused({ $dateFromString: { dateString: "July 4th, 2017" } }, 115);
    assert.equal(await value({ $indexOfCP: ["$s", "", 11] }), -1, "start at the end: nothing");
    // %w counts Sunday as 1 (the $dateToString format table), in the timezone asked.
    const thursday = { $literal: new Date("2023-06-15T23:30:00Z") };
    assert.equal(await value({ $dateToString: { date: thursday, format: "%w" } }), "5");
    assert.equal(
      await value({ $dateToString: { date: thursday, format: "%w", timezone: "Asia/Tokyo" } }),
      "6",
    );
    assert.equal(await value({ $dateToString: { date: "$missing", format: "%w" } }), null);
    // %% is a percent sign; a format mongod cannot read is refused as mongod refuses it.
    assert.equal(
      await value({ $dateToString: { date: thursday, format: "%w%%%w %Y", timezone: "+05" } }),
      "6%6 2023",
    );
    await refused({ $dateToString: { date: thursday, format: "50%" } }, 18535);
    await refused({ $dateToString: { date: thursday, format: "%q" } }, 18536);
    // %U and $week count weeks from Sunday, the days before the first one week 0 (TimeZone::week,
    // as strftime's %U; tester104 #3).
    for (
      const [day, w] of [
        ["2024-03-03T23:30:00Z", 9],
        ["2024-01-06T12:00:00Z", 0],
        ["2023-01-01T12:00:00Z", 1],
        ["2024-12-31T12:00:00Z", 52],
      ] as const
    ) {
      const d = { $literal: new Date(day) };
      assert.equal(await value({ $week: d }), w, day);
      assert.equal(
        await value({ $dateToString: { date: d, format: "%U" } }),
        String(w).padStart(2, "0"),
      );
    }
    // $week evaluates its date once: a date chosen at random gives that date's week (53 or 0),
    // never the day of the week of one and the day of the year of the other (52 or 1).
    const either = (a: string, b: string) => ({
      $cond: [{ $lt: [{ $rand: {} }, 0.5] }, { $literal: new Date(a) }, { $literal: new Date(b) }],
    });
    const sunLate = "2023-12-31T12:00:00Z", satEarly = "2020-01-04T12:00:00Z";
    const [{ weeks }] = await s.aggregate([{
      $project: {
        weeks: Array.from(
          { length: 40 },
          (_, i) =>
            i % 2
              ? { $week: either(sunLate, satEarly) }
              : { $week: { date: either(sunLate, satEarly), timezone: "UTC" } },
        ),
      },
    }]).toArray();
    assert.deepEqual([...new Set(weeks)].filter((w) => w !== 53 && w !== 0), [], String(weeks));
    // A nullish format is null; one of another type 18533 (tester104 #4).
    assert.equal(await value({ $dateToString: { date: thursday, format: null } }), null);
    await refused({ $dateToString: { date: thursday, format: 5 } }, 18533);
    // find's projections and $expr run them too (tester104 #2).
    await s.updateOne({ _id: 1 }, { $set: { sun: new Date("2024-03-03T23:30:00Z") } });
    const found = await s.find({}, {
      projection: { r: { $dateToString: { date: "$sun", format: "%w|%%|%U" } } },
    }).toArray();
    assert.equal(found[0].r, "1|%|09");
    assert.equal(
      (await s.find({ $expr: { $eq: [{ $dateToString: { date: "$sun", format: "%w" } }, "1"] } })
        .toArray()).length,
      1,
    );
    await s.updateOne({ _id: 1 }, { $unset: { sun: "" } });
    assert.equal(await value({ $dateFromString: { dateString: "2023-13-01", onError: "x" } }), "x");
    assert.equal(await value({ $dateFromString: { dateString: "$missing", onNull: "n" } }), "n");
  });
});

Deno.test("simulator: a CRUD command with a field it does not know is refused (40415), never run with the field ignored; the driver's own options all pass (tester99)", async () => {
  await withMongod(async (c) => {
    const db = c.db("app");
    const s = db.collection<Doc>("f");
    await s.insertMany([{ _id: 1 }, { _id: 2 }]);
    // A misspelt filter would have returned every document; a misspelt `ordered`, stopped early.
    await refusedWith(
      db,
      { find: "f", filtre: { _id: 2 } },
      40415,
      "BSON field 'find.filtre' is an unknown field.",
    );
    await refusedWith(db, { insert: "f", documents: [{ _id: 3 }], orderd: false }, 40415);
    await refusedWith(db, { aggregate: "f", pipeline: [], cursor: {}, explian: true }, 40415);
    await refusedWith(db, { count: "f", qurey: { _id: 9 } }, 40415);
    await refusedWith(db, { distinct: "f", key: "_id", fitler: {} }, 40415);
    await refusedWith(
      db,
      { findAndModify: "f", query: { _id: 1 }, update: { $set: { a: 1 } }, returnNew: true },
      40415,
    );
    assert.equal(await s.countDocuments(), 2, "nothing inserted");
    assert.equal((await s.findOne({ _id: 1 }))?.a, undefined, "nothing updated");
    // What the driver sends for its options is known.
    const o = { comment: "c", maxTimeMS: 5000 };
    assert.equal(
      (await s.find({}, {
        ...o,
        sort: { _id: 1 },
        skip: 1,
        limit: 1,
        batchSize: 1,
        hint: { _id: 1 },
      })
        .toArray()).length,
      1,
    );
    await s.aggregate([{ $match: {} }], { ...o, allowDiskUse: true, let: { a: 1 } }).toArray();
    assert.equal(await s.countDocuments({}, o), 2);
    assert.equal((await s.distinct("_id", {}, o)).length, 2);
    await s.findOneAndUpdate({ _id: 1 }, { $set: { b: 1 } }, {
      ...o,
      returnDocument: "after",
      upsert: true,
      projection: { b: 1 },
      let: { x: 1 },
    });
    await s.bulkWrite([
      { insertOne: { document: { _id: 5 } } },
      { updateOne: { filter: { _id: 5 }, update: { $set: { b: 1 } }, hint: { _id: 1 } } },
      { deleteOne: { filter: { _id: 5 } } },
    ], { ordered: false, bypassDocumentValidation: true, comment: "c" });
    assert.equal(await s.countDocuments(), 2);
  });
});

Deno.test("simulator: $inc and $mul on Decimal128 values compute the exact decimal, as mongod's SafeNum does (the engine acknowledged them and changed nothing)", async () => {
  await withMongod(async (c) => {
    const s = c.db("app").collection<Doc>("dec");
    await s.insertOne({ _id: 1, d: Decimal128.fromString("1.5"), n: 2 });
    const after = async (u: Document) => {
      await s.updateOne({ _id: 1 }, u);
      return (await s.findOne({ _id: 1 }))!;
    };
    const text = (v: unknown) => {
      assert.ok(v instanceof Decimal128, `a Decimal128, not ${JSON.stringify(v)}`);
      return v.toString();
    };
    assert.equal(text((await after({ $inc: { d: 1 } })).d), "2.5");
    // A double becomes a decimal of 15 significant digits first (kRoundTo15Digits).
    assert.equal(text((await after({ $inc: { d: 0.1 } })).d), "2.600000000000000");
    assert.equal(text((await after({ $mul: { d: Long.fromNumber(3) } })).d), "7.800000000000000");
    // An int field incremented by a decimal becomes a decimal.
    assert.equal(text((await after({ $inc: { n: Decimal128.fromString("0.25") } })).n), "2.25");
    assert.equal(text((await after({ $inc: { z: Decimal128.fromString("7.0") } })).z), "7.0");
  });
});

Deno.test("simulator: $type in a filter matches by BSON type as mongod does (objectId, timestamp, decimal, number, arrays by element), and refuses an unknown alias or code (2)", async () => {
  await withMongod(async (c) => {
    const db = c.db("app");
    const s = db.collection<Doc>("types");
    await s.insertMany([
      { _id: 1, v: new ObjectId() },
      { _id: 2, v: "s" },
      { _id: 3, v: 5 },
      { _id: 4, v: 1.5 },
      { _id: 5, v: Decimal128.fromString("1.1") },
      { _id: 6, v: [1, "x"] },
      { _id: 7, v: new Timestamp({ t: 1, i: 1 }) },
      { _id: 8 },
    ]);
    const ids = async (f: Document) => (await s.find(f).toArray()).map((d) => d._id);
    assert.deepEqual(await ids({ v: { $type: "objectId" } }), [1]);
    assert.deepEqual(await ids({ v: { $type: 17 } }), [7]);
    assert.deepEqual(await ids({ v: { $type: "decimal" } }), [5]);
    assert.deepEqual(await ids({ v: { $type: "double" } }), [4]);
    assert.deepEqual(await ids({ v: { $type: "number" } }), [3, 4, 5, 6]);
    // An array matches by itself and by any element.
    assert.deepEqual(await ids({ v: { $type: "array" } }), [6]);
    assert.deepEqual(await ids({ v: { $type: "string" } }), [2, 6]);
    assert.deepEqual(
      await ids({
        $or: [{ v: { $type: "objectId" } }, {
          v: { $not: { $type: ["string", "number", "objectId", "timestamp"] } },
        }],
      }),
      [1, 8],
    );
    const piped = await s.aggregate([{ $match: { v: { $type: "objectId" } } }]).toArray();
    assert.deepEqual(piped.map((d) => d._id), [1]);
    await refusedWith(
      db,
      { find: "types", filter: { v: { $type: "objectid" } } },
      2,
      "Unknown type name alias: objectid",
    );
    await refusedWith(db, { find: "types", filter: { v: { $type: 99 } } }, 2);
    // No validator here: refused as not supported, not with the engine's message (tester102).
    await refusedWith(db, { find: "types", filter: { $jsonSchema: { required: ["v"] } } }, 115);
  });
});

Deno.test("simulator: updates mongod refuses or computes exactly (tester102): a field name on an array is 28, a long's overflow is 2 and its sum exact, a decimal through a positional path 115; an insert stores _id first; aggregate takes a writeConcern", async () => {
  await withMongod(async (c) => {
    const db = c.db("app");
    const s = db.collection<Doc>("u");
    await s.insertOne({ _id: 1, arr: [{ k: 1 }], big: Long.fromString("9223372036854775807") });
    const refusedUpdate = async (u: Document, code: number) => {
      const e = await s.updateOne({ _id: 1 }, u).then(() => undefined, (x) => x);
      assert.ok(e instanceof MongoServerError, `${JSON.stringify(u)}: ${e}`);
      assert.equal(e.code, code, e.message);
    };
    await refusedUpdate({ $set: { "arr.t": 1 } }, 28);
    await refusedUpdate({ $inc: { big: 1 } }, 2);
    await refusedUpdate({ $inc: { "arr.$[].k": Decimal128.fromString("1") } }, 115);
    await s.updateOne({ _id: 1 }, { $inc: { big: -2 } } as Document);
    const big = await s.findOne({ _id: 1 }, { promoteLongs: false });
    assert.equal(String(big?.big), "9223372036854775805");
    assert.deepEqual((await s.findOne({ _id: 1 }))?.arr, [{ k: 1 }], "nothing else changed");

    await db.collection("o").insertOne({ z: 0, _id: 7, b: 2 } as never);
    const raw = await db.command({ find: "o", filter: {} });
    assert.deepEqual(Object.keys(raw.cursor.firstBatch[0]), ["_id", "z", "b"]);
  });
});

Deno.test("simulator: date expressions take the zones mongod knows (UTC, GMT, three-part names, daylight saving time, offsets of either sign, local mean time to the second), refuse others with 40485/40517, answer null for a null zone; ObjectId and Timestamp dates, 16006 for others; argument checks; ISO weeks; $dateToParts in mongod's field order (tester106)", async () => {
  await withMongod(async (c) => {
    const s = c.db("app").collection<{ _id: number; [field: string]: unknown }>("z");
    await s.insertOne({ _id: 1, constructor: 3, toString: "t", a: 1 });
    const value = async (e: Document) =>
      (await s.aggregate([{ $project: { _id: 0, v: e } }]).toArray())[0].v;
    const summer = { $literal: new Date("2024-07-01T12:00:00Z") };
    const winter = { $literal: new Date("2024-01-01T12:00:00Z") };
    // The engine knew only offsets and two-part names: "UTC" was refused with its own message.
    assert.equal(await value({ $hour: { date: summer, timezone: "UTC" } }), 12);
    assert.equal(await value({ $hour: { date: summer, timezone: "GMT" } }), 12);
    assert.equal(await value({ $dayOfWeek: { date: summer, timezone: "UTC" } }), 2);
    assert.equal(
      await value({ $hour: { date: summer, timezone: "America/Argentina/Buenos_Aires" } }),
      9,
    );
    assert.equal(await value({ $hour: { date: summer, timezone: "America/New_York" } }), 8);
    assert.equal(await value({ $hour: { date: winter, timezone: "America/New_York" } }), 7);
    assert.equal(await value({ $minute: { date: winter, timezone: "+0530" } }), 30);
    // Offsets under an hour, and past 20 hours, keep their sign (tester106 #1, #2).
    assert.equal(await value({ $hour: { date: summer, timezone: "-00:30" } }), 11);
    assert.equal(await value({ $hour: { date: summer, timezone: "-21:00" } }), 15);
    assert.equal(await value({ $hour: { date: summer, timezone: "+25" } }), 13);
    assert.equal(
      await value({ $dateToString: { date: summer, timezone: "-00:30", format: "%H:%M %z" } }),
      "11:30 -0030",
    );
    assert.equal(
      await value({
        $dateToString: { date: winter, timezone: "America/St_Johns", format: "%z %Z" },
      }),
      "-0330 -210",
    );
    // Dublin Mean Time, -0:25:21 (tester106 #3); year 50 is not 1950 (#4).
    assert.equal(
      await value({
        $dateToString: {
          date: { $literal: new Date("1900-07-10T12:00:00Z") },
          timezone: "Europe/Dublin",
          format: "%H:%M:%S %z",
        },
      }),
      "11:34:39 -0025",
    );
    const year50 = { $literal: new Date("0050-06-01T00:00:00Z") };
    assert.equal(await value({ $year: { date: year50, timezone: "Europe/Paris" } }), 50);
    assert.equal(await value({ $hour: { date: year50, timezone: "UTC" } }), 0);
    // An ObjectId's time and a Timestamp's seconds are dates (#6).
    assert.equal(
      await value({
        $hour: {
          date: { $literal: ObjectId.createFromTime(Date.UTC(2024, 6, 1, 12) / 1000) },
          timezone: "America/New_York",
        },
      }),
      8,
    );
    assert.equal(
      await value({
        $hour: { $literal: new Timestamp({ t: Date.UTC(2024, 6, 1, 12) / 1000, i: 1 }) },
      }),
      12,
    );
    // ISO week-years (#10): 2024-12-30 is in 2025's first week, 2021-01-01 in 2020's last.
    assert.equal(
      await value({ $isoWeekYear: { $literal: new Date("2024-12-30T12:00:00Z") } }),
      2025,
    );
    assert.equal(
      await value({ $isoWeekYear: { $literal: new Date("2021-01-01T12:00:00Z") } }),
      2020,
    );
    assert.equal(
      await value({
        $dateToString: {
          date: { $literal: new Date("2017-01-01T12:00:00Z") },
          format: "%G-W%V-%u",
        },
      }),
      "2016-W52-7",
    );
    assert.equal(
      await value({ $dateToString: { date: summer, timezone: "UTC", format: "%H:%M %z" } }),
      "12:00 +0000",
    );
    assert.equal(
      await value({
        $dateToString: { date: summer, timezone: "Australia/Lord_Howe", format: "%H:%M" },
      }),
      "22:30",
    );
    assert.equal(await value({ $week: { date: winter, timezone: "Etc/GMT+12" } }), 0);
    // A null zone makes the result null (mongod's makeTimeZone gives none); a null date too.
    assert.equal(await value({ $hour: { date: winter, timezone: null } }), null);
    assert.equal(
      await value({ $dateToString: { date: winter, timezone: null, format: "%H" } }),
      null,
    );
    assert.equal(await value({ $week: { date: winter, timezone: "$missing" } }), null);
    assert.equal(await value({ $hour: { date: null, timezone: "UTC" } }), null);
    const refusedWith40 = async (e: Document, code: number, message: RegExp) => {
      const err = await s.aggregate([{ $project: { v: e } }]).toArray().then(
        () => undefined,
        (x) => x as MongoServerError,
      );
      assert.equal(err?.code, code, `${JSON.stringify(e)}: ${err?.message}`);
      assert.match(err!.message, message);
    };
    await refusedWith40(
      { $hour: { date: winter, timezone: "Foo/Bar" } },
      40485,
      /^unrecognized time zone identifier: "Foo\/Bar"$/,
    );
    await refusedWith40({ $hour: { date: null, timezone: "Nowhere" } }, 40485, /"Nowhere"/);
    await refusedWith40(
      { $dateToString: { date: winter, timezone: "Nowhere", format: "%H" } },
      40485,
      /"Nowhere"/,
    );
    await refusedWith40(
      { $hour: { date: winter, timezone: 5 } },
      40517,
      /^timezone must evaluate to a string, found int$/,
    );
    // The database's names are exact; ICU's other names are not the database's (#5).
    await refusedWith40({ $hour: { date: winter, timezone: "utc" } }, 40485, /"utc"/);
    await refusedWith40({ $hour: { date: winter, timezone: "PST" } }, 40485, /"PST"/);
    assert.equal(await value({ $hour: { date: winter, timezone: "EST" } }), 7);
    // What is no date is 16006, with a zone or without (#7); argument checks (#8, #9).
    await refusedWith40(
      { $hour: { date: "abc", timezone: "UTC" } },
      16006,
      /^can't convert from BSON type string to Date$/,
    );
    await refusedWith40({ $hour: 42 }, 16006, /BSON type int/);
    await refusedWith40({ $minute: [{ date: winter, timezone: "+0530" }] }, 16006, /object/);
    await refusedWith40(
      { $minute: [winter, 1] },
      40536,
      /^\$minute accepts exactly one argument if given an array, but was given 2$/,
    );
    await refusedWith40(
      { $year: { date: winter, foo: 1 } },
      40535,
      /^unrecognized option to \$year: "foo"$/,
    );
    await refusedWith40(
      { $year: { timezone: "UTC" } },
      40539,
      /^missing 'date' argument to \$year/,
    );
    await refusedWith40({ $dateToParts: { date: winter, iso8601: 1 } }, 40521, /found int$/);
    await refusedWith40({ $dateToParts: { date: winter, foo: 1 } }, 40520, /: foo$/);
    await refusedWith40({ $dateToParts: { timezone: "UTC" } }, 40522, /Missing 'date'/);
    await refusedWith40({ $dateToParts: "x" }, 40524, /only supports an object/);
    assert.equal(await value({ $dateToParts: { date: winter, iso8601: null } }), null);
    // mongod's order of evaluation (tester108 #4): the date before a zone read from a field; a
    // zone (and $dateToParts' iso8601) before the date's conversion; $dateToString's zone
    // before its date's null check. A constant zone is checked when parsed.
    await s.updateOne({ _id: 1 }, { $set: { tz: 5, tzBad: "Nowhere", str: "x" } });
    assert.equal(await value({ $year: { date: "$missing", timezone: "$tz" } }), null);
    await refusedWith40({ $year: { date: "$str", timezone: "$tzBad" } }, 40485, /Nowhere/);
    await refusedWith40({ $dateToParts: { date: "$str", iso8601: 5 } }, 40521, /found int/);
    assert.equal(await value({ $dateToParts: { date: "$str", timezone: null } }), null);
    assert.equal(await value({ $dateToString: { date: "$str", timezone: null } }), null);
    await refusedWith40({ $dateToString: { date: null, timezone: "$tzBad" } }, 40485, /Nowhere/);
    // 7.0 keeps the "Z" of the default format with a zone (7.1 drops it: SERVER-72914).
    assert.equal(
      await value({ $dateToString: { date: summer, timezone: "Asia/Tokyo" } }),
      "2024-07-01T21:00:00.000Z",
    );
    // A Timestamp's seconds are unsigned (#2); a year past 9999 is not printed (18537, #3).
    assert.equal(
      await value({ $year: { $literal: new Timestamp({ t: 3_000_000_000, i: 1 }) } }),
      2065,
    );
    await refusedWith40(
      { $dateToString: { date: { $literal: new Date(Date.UTC(10000, 0, 1)) } } },
      18537,
      /outside the supported range of 0-9999: 10000$/,
    );
    await s.updateOne({ _id: 1 }, { $unset: { tz: "", tzBad: "", str: "" } });
    // ExpressionDateToParts::evaluate: the date's parts, then the time's.
    assert.deepEqual(
      Object.keys(await value({ $dateToParts: { date: summer, timezone: "Asia/Kolkata" } })),
      ["year", "month", "day", "hour", "minute", "second", "millisecond"],
    );
    assert.deepEqual(
      await value({ $dateToParts: { date: summer, timezone: "Asia/Kolkata", iso8601: true } }),
      {
        isoWeekYear: 2024,
        isoWeek: 27,
        isoDayOfWeek: 1,
        hour: 17,
        minute: 30,
        second: 0,
        millisecond: 0,
      },
    );
    assert.deepEqual(Object.keys(await value({ $dateToParts: { date: winter } })), [
      "year",
      "month",
      "day",
      "hour",
      "minute",
      "second",
      "millisecond",
    ]);
    // The engine's inclusion of a field named after an Object.prototype member merged the value
    // into that member, for every later query of the process (tester106 #16): refused (115).
    await s.insertOne({ _id: 2 });
    for (const projection of [{ toString: 1 }, { "a.constructor": 1 }]) {
      const err = await s.find({}, { projection }).toArray().then(
        () => undefined,
        (x) => x as MongoServerError,
      );
      assert.equal(err?.code, 115, JSON.stringify(projection));
    }
    assert.equal(
      (await s.aggregate([{ $project: { toString: 1 } }]).toArray().catch((e) => e)).code,
      115,
    );
    // Excluded, computed from, and sorted on, such fields are the documents' own (#12).
    assert.deepEqual(
      await s.find({}, { projection: { constructor: 0, a: 0 } }).toArray() as unknown,
      JSON.parse('[{"_id":1,"toString":"t"},{"_id":2}]'),
    );
    assert.deepEqual(
      (await s.find({}).sort({ constructor: -1 } as never).toArray()).map((d) => d._id),
      [1, 2],
    );
    assert.deepEqual(
      (await s.find({}).sort({ constructor: 1 } as never).toArray()).map((d) => d._id),
      [2, 1],
    );
    // An update's filter reads the simulator's operators too: it matched and changed nothing
    // (tester106 #11).
    await s.updateOne({ _id: 2 }, { $set: { d: new Date("2020-01-04T12:00:00Z"), arr: [1, 2] } });
    const changed = await s.updateOne(
      { arr: 2, $expr: { $eq: [{ $week: "$d" }, 0] } },
      { $set: { "arr.$": 20 } },
    );
    assert.equal(changed.modifiedCount, 1);
    const many = await s.updateMany(
      { $expr: { $eq: [{ $hour: { date: "$d", timezone: "UTC" } }, 12] } },
      { $inc: { n: 1 } } as never,
    );
    assert.equal(many.modifiedCount, 1);
    assert.deepEqual(await s.findOne({ _id: 2 }, { projection: { _id: 0, arr: 1, n: 1 } }), {
      arr: [1, 20],
      n: 1,
    });
    // A command's let values are evaluated once, before it runs (tester106 #13): the engine
    // took the expression for the value.
    const lets = { h: { $add: [1, 1] }, lit: { $literal: "$x" }, o: { p: { $add: [1, 2] } } };
    assert.deepEqual(
      await s.aggregate([{ $match: { $expr: { $eq: ["$n", "$$h"] } } }, {
        $project: { _id: 1, h: "$$h", lit: "$$lit", o: "$$o" },
      }], { let: lets }).toArray() as unknown,
      [],
    );
    assert.deepEqual(
      await s.aggregate([{ $match: { $expr: { $eq: ["$_id", "$$h"] } } }, {
        $project: { _id: 1, h: "$$h", lit: "$$lit", o: "$$o" },
      }], { let: lets }).toArray() as unknown,
      [{ _id: 2, h: 2, lit: "$x", o: { p: 3 } }],
    );
    assert.equal(
      (await s.find({ $expr: { $eq: ["$_id", "$$h"] } }, { let: lets }).toArray()).length,
      1,
    );
    // $push and $addToSet leave a missing value out, keep a null (tester106 #15).
    const g = c.db("app").collection("g");
    await g.insertMany(
      [{ _id: 1, x: 1 }, { _id: 2 }, { _id: 3, x: null }, { _id: 4, x: 1 }] as never,
    );
    assert.deepEqual(
      await g.aggregate([{ $sort: { _id: 1 } }, {
        $group: { _id: null, p: { $push: "$x" }, a: { $addToSet: "$x" } },
      }]).toArray() as unknown,
      [{ _id: null, p: [1, null, 1], a: [1, null] }],
    );
  });
});
