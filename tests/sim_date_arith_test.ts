/**
 * The date operators that compute dates — $dateFromParts, $dateAdd, $dateSubtract, $dateDiff,
 * $dateTrunc — answered as mongod answers them (evaluate_date.cpp, date_time_support.cpp; the
 * expected values of jstests/aggregation/expressions/date_add_subtract.js, date_diff.js,
 * date_trunc.js, date_from_parts.js): zones by offset and by name ("UTC", "GMT", three-part
 * names) at the date's own offset, local-time arithmetic across daylight saving time, carries
 * of out-of-range parts, mongod's order of evaluation, null handling and error codes, and the
 * checks mongod makes when it parses a pipeline (with no document). Through the official driver.
 */
import assert from "node:assert/strict";
import {
  type Collection,
  Decimal128,
  type Document,
  Long,
  MongoServerError,
  ObjectId,
  Timestamp,
} from "mongodb";
import { withMongod } from "./sim_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

type Doc = { _id: number; [field: string]: unknown };

/** A constant date. */
const at = (s: string) => ({ $literal: new Date(s) });

/** `e` evaluated for the one document of `s`, and its refusal with `code` (and message). */
function probe(s: Collection<Doc>) {
  const value = async (e: Document) =>
    (await s.aggregate([{ $project: { _id: 0, v: e } }]).toArray())[0].v;
  const refused = async (e: Document, code: number, message?: string | RegExp) => {
    const err = await s.aggregate([{ $project: { _id: 0, v: e } }]).toArray().then(
      () => undefined,
      (x) => x,
    );
    assert.ok(
      err instanceof MongoServerError,
      `${JSON.stringify(e)}: expected ${code}, got ${err}`,
    );
    assert.equal(err.code, code, `${JSON.stringify(e)}: ${err.message}`);
    if (typeof message === "string") assert.equal(err.message, message);
    else if (message) assert.match(err.message, message);
    return err;
  };
  return { value, refused };
}

Deno.test("simulator: $dateAdd and $dateSubtract add in the zone as mongod does (days and larger in local time across DST, hours in UTC, the last day of a month), take UTC, GMT and three-part names, mongod's null handling, order of checks and error codes, constants checked with no document", async () => {
  await withMongod(async (c) => {
    const s = c.db("app").collection<Doc>("add");
    await s.insertOne({
      _id: 1,
      d: new Date("2020-12-31T12:10:05Z"),
      unit: "month",
      tz: "Europe/Paris",
      str: "x",
      nul: null,
      half: 1.5,
      oid: ObjectId.createFromTime(Date.UTC(2021, 0, 31, 12) / 1000),
      ts: new Timestamp({ t: Date.UTC(2021, 0, 31, 12) / 1000, i: 7 }),
    });
    const { value, refused } = probe(s);
    const add = (spec: Document) => value({ $dateAdd: spec });
    const sub = (spec: Document) => value({ $dateSubtract: spec });
    // date_add_subtract.js: 24 hours across Paris's change back to standard time are 24 hours
    // (mongod adds hours in UTC); a day keeps the local 20:10, an hour later in UTC.
    const dst = at("2020-10-24T18:10:00Z");
    assert.deepEqual(
      await add({ startDate: dst, unit: "hour", amount: 24, timezone: "Europe/Paris" }),
      new Date("2020-10-25T18:10:00Z"),
    );
    assert.deepEqual(
      await add({ startDate: dst, unit: "day", amount: 1, timezone: "Europe/Paris" }),
      new Date("2020-10-25T19:10:00Z"),
    );
    // The last day adjustment in the zone: 2021-01-31 00:30 in Paris + 1 month is Feb 28.
    assert.deepEqual(
      await add({
        startDate: at("2021-01-30T23:30:00Z"),
        unit: "month",
        amount: 1,
        timezone: "$tz",
      }),
      new Date("2021-02-27T23:30:00Z"),
    );
    assert.deepEqual(
      await sub({
        startDate: at("2021-01-31T03:00:00Z"),
        unit: "month",
        amount: 2,
        timezone: "America/New_York",
      }),
      new Date("2020-12-01T03:00:00Z"),
    );
    assert.deepEqual(
      await add({ startDate: at("2020-01-31T00:00:00Z"), unit: "month", amount: 1 }),
      new Date("2020-02-29T00:00:00Z"),
    );
    assert.deepEqual(
      await add({ startDate: "$d", unit: "$unit", amount: 1 }),
      new Date("2021-01-31T12:10:05Z"),
    );
    assert.deepEqual(
      await sub({ startDate: "$d", unit: "quarter", amount: 2 }),
      new Date("2020-06-30T12:10:05Z"),
    );
    assert.deepEqual(
      await sub({ startDate: "$d", unit: "$unit", amount: 3, timezone: "$tz" }),
      new Date("2020-09-30T11:10:05Z"),
    );
    assert.deepEqual(
      await sub({
        startDate: { $dateAdd: { startDate: "$d", unit: "hour", amount: 2 } },
        unit: "hour",
        amount: 2,
      }),
      new Date("2020-12-31T12:10:05Z"),
    );
    assert.deepEqual(
      await add({ startDate: "$d", unit: "millisecond", amount: 1050 }),
      new Date("2020-12-31T12:10:06.050Z"),
    );
    // The engine refused these zones with code 2 (and ignored the zone it took).
    for (const zone of ["UTC", "GMT", "America/Argentina/Buenos_Aires", "+03:00"]) {
      assert.deepEqual(
        await add({ startDate: "$d", unit: "week", amount: 1, timezone: zone }),
        new Date("2021-01-07T12:10:05Z"),
        zone,
      );
    }
    // date_time_support.cpp's example: an hour in New York as it leaves DST is an hour in UTC;
    // a day keeps 08:00 local.
    assert.deepEqual(
      await add({
        startDate: at("2020-11-01T05:50:02Z"),
        unit: "hour",
        amount: 1,
        timezone: "America/New_York",
      }),
      new Date("2020-11-01T06:50:02Z"),
    );
    assert.deepEqual(
      await add({
        startDate: at("2020-10-31T12:00:00Z"),
        unit: "day",
        amount: 1,
        timezone: "America/New_York",
      }),
      new Date("2020-11-01T13:00:00Z"),
    );
    // A local result in a gap moves forward by the gap; one in an overlap is its earlier instant
    // west of Greenwich and its later one east of it (timelib's do_adjust_timezone).
    assert.deepEqual(
      await add({
        startDate: at("2021-03-13T07:30:00Z"),
        unit: "day",
        amount: 1,
        timezone: "America/New_York",
      }),
      new Date("2021-03-14T07:30:00Z"),
    );
    assert.deepEqual(
      await add({
        startDate: at("2021-11-06T05:30:00Z"),
        unit: "day",
        amount: 1,
        timezone: "America/New_York",
      }),
      new Date("2021-11-07T05:30:00Z"),
    );
    assert.deepEqual(
      await add({
        startDate: at("2021-10-30T00:30:00Z"),
        unit: "day",
        amount: 1,
        timezone: "Europe/Paris",
      }),
      new Date("2021-10-31T01:30:00Z"),
    );
    // An ObjectId's time and a Timestamp's seconds are dates; an integral amount of any type.
    assert.deepEqual(
      await add({ startDate: "$oid", unit: "month", amount: 1 }),
      new Date("2021-02-28T12:00:00Z"),
    );
    assert.deepEqual(
      await sub({ startDate: "$ts", unit: "day", amount: Decimal128.fromString("2.0") }),
      new Date("2021-01-29T12:00:00Z"),
    );
    assert.deepEqual(
      await add({ startDate: "$d", unit: "year", amount: Long.fromNumber(1) }),
      new Date("2021-12-31T12:10:05Z"),
    );
    // Nullish startDate, unit, amount or zone: null; the unit before the startDate's check.
    assert.equal(await add({ startDate: "$missing", unit: "day", amount: 1 }), null);
    assert.equal(await add({ startDate: "$str", unit: "$nul", amount: 1 }), null);
    assert.equal(await add({ startDate: "$d", unit: "day", amount: "$nul" }), null);
    assert.equal(await add({ startDate: "$d", unit: "day", amount: 1, timezone: null }), null);
    assert.equal(await add({ startDate: "$str", unit: null, amount: 1 }), null);
    // Errors, in mongod's order: unit, then the zone, then startDate, then amount.
    await refused(
      { $dateAdd: { startDate: "$d", unit: 5, amount: 1 } },
      5439013,
      "$dateAdd requires 'unit' to be a string, but got int",
    );
    const e = await refused(
      { $dateAdd: { startDate: "$str", unit: "$str", amount: "$half" } },
      9,
      "$dateAdd parameter 'unit' value parsing failed :: caused by :: unknown time unit value: x",
    );
    assert.equal(e.codeName, "FailedToParse");
    await refused(
      { $dateSubtract: { startDate: "$str", unit: "day", amount: "$half", timezone: "$str" } },
      40485,
      'unrecognized time zone identifier: "x"',
    );
    const e2 = await refused(
      { $dateSubtract: { startDate: "$str", unit: "day", amount: "$half" } },
      5166403,
      "$dateSubtract requires startDate to be convertible to a date",
    );
    assert.equal(e2.codeName, "Location5166403");
    await refused(
      { $dateAdd: { startDate: "$d", unit: "day", amount: "$half" } },
      5166405,
      "$dateAdd expects integer amount of time units",
    );
    await refused({ $dateAdd: { startDate: "$d", unit: "day", amount: 1, timezone: 5 } }, 40517);
    await refused(
      { $dateAdd: { startDate: "$d", unit: "day", amount: 1e12 } },
      5976500,
      "invalid dateAdd 'amount' parameter value: 1000000000000 day",
    );
    await refused(
      { $dateAdd: { startDate: "$d", unit: "day", amount: 213_503_982_334 } },
      5166406,
      "dateAdd overflowed",
    );
    await refused(
      { $dateSubtract: { startDate: "$d", unit: "day", amount: Long.MIN_VALUE } },
      6045000,
      "invalid $dateSubtract 'amount' parameter value: -9223372036854775808",
    );
    // Parse errors (expression.cpp's commonDateArithmeticsParse).
    await refused({ $dateAdd: "x" }, 5166400, "$dateAdd expects an object as its argument");
    await refused(
      { $dateAdd: { startDate: "$d", units: "day", amount: 1 } },
      5166401,
      "Unrecognized argument to $dateAdd: units. Expected arguments are startDate, unit, amount, and optionally timezone.",
    );
    await refused(
      { $dateSubtract: { startDate: "$d", amount: 1 } },
      5166402,
      "$dateSubtract requires startDate, unit, and amount to be present",
    );
    // mongod checks a constant unit or zone, and evaluates an all-constant call, as it parses
    // the pipeline: with no document at all.
    const empty = probe(c.db("app").collection<Doc>("none")).refused;
    await empty({ $dateAdd: { startDate: "$d", unit: "epoch", amount: "$n" } }, 9);
    await empty(
      { $dateAdd: { startDate: "$d", unit: "$u", amount: 1, timezone: "Nowhere" } },
      40485,
    );
    await empty({ $dateSubtract: { startDate: "myBirthDate", unit: "year", amount: 10 } }, 5166403);
  });
});

Deno.test("simulator: $dateDiff counts boundaries on the zone's clock as mongod does (weeks from startOfWeek, hours with the offset's change), answers a number the engine can sum and compare, mongod's nulls, order and error codes", async () => {
  await withMongod(async (c) => {
    const s = c.db("app").collection<Doc>("diff");
    await s.insertOne({
      _id: 1,
      start: new Date("2020-11-01T18:23:36Z"),
      end: new Date("2020-11-02T00:00:00Z"),
      str: "x",
      nul: null,
      one: 1,
      ignored: "IGNORED",
      oid: ObjectId.createFromTime(Date.UTC(2021, 0, 31, 12) / 1000),
      ts: new Timestamp({ t: Date.UTC(2021, 1, 2, 12) / 1000, i: 1 }),
    });
    const { value, refused } = probe(s);
    const diff = (spec: Document) => value({ $dateDiff: spec });
    // date_diff.js.
    assert.equal(await diff({ startDate: "$start", endDate: "$end", unit: "hour" }), 6);
    assert.equal(
      await diff({
        startDate: "$start",
        endDate: "$end",
        unit: "hour",
        timezone: "America/New_York",
        startOfWeek: "$ignored",
      }),
      6,
    );
    const week = (start: string, end: string, extra: Document = {}) =>
      diff({ startDate: at(start), endDate: at(end), unit: "week", ...extra });
    assert.equal(
      await week("2021-01-24T18:23:36Z", "2021-01-25T02:23:36Z", {
        timezone: "GMT",
        startOfWeek: "MONDAY",
      }),
      1,
    );
    assert.equal(
      await week("2021-01-17T05:00:00Z", "2021-01-17T04:59:00Z", {
        timezone: "America/New_York",
        startOfWeek: "sunday",
      }),
      -1,
    );
    assert.equal(await week("2021-01-24T18:23:36Z", "2021-01-25T02:23:36Z"), 0);
    assert.equal(
      await week("2021-01-24T18:23:36Z", "2021-01-25T02:23:36Z", { startOfWeek: "Mon" }),
      1,
    );
    // Larger units count calendar boundaries in the zone: 22:00 New York on Dec 31 to 01:00
    // on Jan 1 is a year, a quarter, a month and a day; in UTC none.
    const ny = { startDate: at("2021-01-01T03:00:00Z"), endDate: at("2021-01-01T06:00:00Z") };
    for (const unit of ["year", "quarter", "month", "day"]) {
      assert.equal(await diff({ ...ny, unit, timezone: "America/New_York" }), 1, unit);
      assert.equal(await diff({ ...ny, unit, timezone: "UTC" }), 0, unit);
    }
    assert.equal(
      await diff({ startDate: at("2020-01-15T00:00:00Z"), endDate: "$end", unit: "month" }),
      10,
    );
    // Hours across the spring change in New York: 01:00 EST to 04:00 EDT is 2 hours; Lord Howe
    // moves by half an hour, which an hour's count drops (C's integer division) and a minute's
    // keeps.
    assert.equal(
      await diff({
        startDate: at("2021-03-14T06:00:00Z"),
        endDate: at("2021-03-14T08:00:00Z"),
        unit: "hour",
        timezone: "America/New_York",
      }),
      2,
    );
    const lordHowe = {
      startDate: at("2021-04-03T14:00:00Z"),
      endDate: at("2021-04-03T16:00:00Z"),
      timezone: "Australia/Lord_Howe",
    };
    assert.equal(await diff({ ...lordHowe, unit: "minute" }), 120);
    assert.equal(await diff({ ...lordHowe, unit: "hour" }), 1);
    assert.equal(await diff({ ...lordHowe, unit: "second" }), 7200);
    assert.equal(
      await diff({ startDate: "$oid", endDate: "$ts", unit: "day", timezone: "Asia/Kolkata" }),
      2,
    );
    assert.equal(await diff({ startDate: "$oid", endDate: "$oid", unit: "millisecond" }), 0);
    // The engine sums and compares the answer (a Long would sum to 0 and compare false).
    const [sums] = await s.aggregate([
      {
        $match: {
          $expr: {
            $gt: [{ $dateDiff: { startDate: "$start", endDate: "$end", unit: "minute" } }, 300],
          },
        },
      },
      {
        $group: {
          _id: null,
          total: { $sum: { $dateDiff: { startDate: "$start", endDate: "$end", unit: "second" } } },
        },
      },
    ]).toArray();
    assert.equal(sums?.total, 20184);
    // Nulls first, in mongod's order; startOfWeek only for weeks.
    assert.equal(
      await diff({ startDate: "$missing", endDate: 1, unit: "$str", timezone: "$one" }),
      null,
    );
    assert.equal(await diff({ startDate: "$start", endDate: "$nul", unit: "$str" }), null);
    assert.equal(await diff({ startDate: "$str", endDate: "$str", unit: "$nul" }), null);
    assert.equal(
      await diff({ startDate: "$str", endDate: "$str", unit: "week", startOfWeek: "$nul" }),
      null,
    );
    assert.equal(
      await diff({ startDate: "$start", endDate: "$end", unit: "hour", startOfWeek: "$one" }),
      6,
    );
    assert.equal(
      await diff({ startDate: "$str", endDate: "$str", unit: "hour", timezone: "$nul" }),
      null,
    );
    await refused(
      { $dateDiff: { startDate: "$str", endDate: "$end", unit: "hour" } },
      5166307,
      "$dateDiff requires 'startDate' to be a date, but got string",
    );
    await refused(
      { $dateDiff: { startDate: "$start", endDate: "$one", unit: "hour" } },
      5166307,
      "$dateDiff requires 'endDate' to be a date, but got int",
    );
    await refused(
      { $dateDiff: { startDate: "$str", endDate: "$str", unit: "$one" } },
      5439013,
      "$dateDiff requires 'unit' to be a string, but got int",
    );
    await refused({ $dateDiff: { startDate: "$str", endDate: "$str", unit: "decade" } }, 9);
    await refused(
      { $dateDiff: { startDate: "$str", endDate: "$str", unit: "week", startOfWeek: "$one" } },
      5439015,
      "$dateDiff requires 'startOfWeek' to be a string, but got int",
    );
    await refused(
      { $dateDiff: { startDate: "$start", endDate: "$end", unit: "week", startOfWeek: "FRIDIE" } },
      5439016,
      "$dateDiff parameter 'startOfWeek' value cannot be recognized as a day of a week: FRIDIE",
    );
    await refused(
      {
        $dateDiff: {
          startDate: "$str",
          endDate: "$str",
          unit: "hour",
          timezone: "America/Invalid",
        },
      },
      40485,
      "$dateDiff parameter 'timezone' value parsing failed :: caused by :: unrecognized time zone identifier: \"America/Invalid\"",
    );
    await refused(
      { $dateDiff: { startDate: "$start", endDate: "$end", unit: "hour", timezone: "$one" } },
      40517,
      /caused by :: timezone must evaluate to a string, found int$/,
    );
    await refused({ $dateDiff: [] }, 5166301, "$dateDiff only supports an object as its argument");
    await refused(
      { $dateDiff: { startDate: 1, endDate: 2, unit: "day", timeGone: "yes" } },
      5166302,
      "Unrecognized argument to $dateDiff: timeGone",
    );
    await refused(
      { $dateDiff: { endDate: 1, unit: "day" } },
      5166303,
      "Missing 'startDate' parameter to $dateDiff",
    );
    await refused(
      { $dateDiff: { startDate: 1, unit: "day" } },
      5166304,
      "Missing 'endDate' parameter to $dateDiff",
    );
    await refused(
      { $dateDiff: { startDate: 1, endDate: 2 } },
      5166305,
      "Missing 'unit' parameter to $dateDiff",
    );
    // A constant startOfWeek is checked when parsed, whatever the unit.
    const empty = probe(c.db("app").collection<Doc>("none")).refused;
    await empty({
      $dateDiff: { startDate: "$a", endDate: "$b", unit: "day", startOfWeek: "FRIDIE" },
    }, 5439016);
    await empty({ $dateDiff: { startDate: "$a", endDate: "$b", unit: "$u", timezone: 5 } }, 40517);
  });
});

Deno.test("simulator: $dateTrunc bins from 2000-01-01 on the zone's clock as mongod does (weeks from startOfWeek, binSize of any integral type), mongod's nulls, order and error codes", async () => {
  await withMongod(async (c) => {
    const s = c.db("app").collection<Doc>("trunc");
    await s.insertOne({
      _id: 1,
      d: new Date("2021-12-01T18:23:36Z"),
      str: "x",
      nul: null,
      one: 1,
      ignored: "IGNORED",
      oid: new ObjectId("507c7f79bcf86cd7994f6c0e"),
      ts: new Timestamp({ t: 1350336377, i: 0 }),
    });
    const { value, refused } = probe(s);
    const trunc = (spec: Document) => value({ $dateTrunc: spec });
    // date_trunc.js.
    assert.deepEqual(
      await trunc({ date: at("2020-11-01T18:23:36Z"), unit: "hour", binSize: 2 }),
      new Date("2020-11-01T18:00:00Z"),
    );
    assert.deepEqual(
      await trunc({
        date: "$d",
        unit: "hour",
        binSize: 4,
        timezone: "America/New_York",
        startOfWeek: "$ignored",
      }),
      new Date("2021-12-01T17:00:00Z"),
    );
    assert.deepEqual(
      await trunc({ date: at("2021-02-15T18:23:36Z"), unit: "week" }),
      new Date("2021-02-14T00:00:00Z"),
    );
    assert.deepEqual(
      await trunc({
        date: at("2000-01-30T18:00:00Z"),
        unit: "week",
        binSize: 2,
        timezone: "America/New_York",
        startOfWeek: "mon",
      }),
      new Date("2000-01-17T05:00:00Z"),
    );
    assert.deepEqual(
      await trunc({ date: "$oid", unit: "minute", binSize: 10 }),
      new Date("2012-10-15T21:20:00Z"),
    );
    assert.deepEqual(
      await trunc({ date: "$ts", unit: "second", binSize: 10 }),
      new Date("2012-10-15T21:26:10Z"),
    );
    const late = at("2020-01-30T18:59:00.003Z");
    assert.deepEqual(
      await trunc({ date: late, unit: "minute", binSize: Decimal128.fromString("15") }),
      new Date("2020-01-30T18:45:00Z"),
    );
    assert.deepEqual(
      await trunc({ date: late, unit: "day", binSize: Long.fromNumber(1), timezone: "UTC" }),
      new Date("2020-01-30T00:00:00Z"),
    );
    assert.deepEqual(
      await trunc({ date: late, unit: "millisecond", binSize: 1000 }),
      new Date("2020-01-30T18:59:00Z"),
    );
    assert.deepEqual(
      await trunc({ date: late, unit: "year", timezone: "GMT", startOfWeek: "$one" }),
      new Date("2020-01-01T00:00:00Z"),
    );
    // Larger units on the zone's clock: Tokyo's March starts on Feb 28 in UTC; a quarter, five
    // years from 2000; a day in New York after the spring change starts at 00:00 EST.
    const march = at("2021-03-15T12:00:00Z");
    assert.deepEqual(
      await trunc({ date: march, unit: "month", timezone: "Asia/Tokyo" }),
      new Date("2021-02-28T15:00:00Z"),
    );
    assert.deepEqual(
      await trunc({ date: at("2021-05-20T12:00:00Z"), unit: "quarter" }),
      new Date("2021-04-01T00:00:00Z"),
    );
    assert.deepEqual(
      await trunc({
        date: march,
        unit: "year",
        binSize: 5,
        timezone: "America/Argentina/Buenos_Aires",
      }),
      new Date("2020-01-01T03:00:00Z"),
    );
    assert.deepEqual(
      await trunc({ date: at("2021-03-14T12:00:00Z"), unit: "day", timezone: "America/New_York" }),
      new Date("2021-03-14T05:00:00Z"),
    );
    assert.deepEqual(
      await trunc({ date: at("2021-07-01T12:00:00Z"), unit: "day", timezone: "America/New_York" }),
      new Date("2021-07-01T04:00:00Z"),
    );
    // Nulls, in mongod's order: date, binSize, unit, startOfWeek (weeks), zone.
    assert.equal(
      await trunc({ date: "$missing", unit: "$str", binSize: "$str", timezone: "$one" }),
      null,
    );
    assert.equal(await trunc({ date: "$d", unit: "$nul", binSize: 1 }), null);
    assert.equal(await trunc({ date: "$d", unit: "hour", binSize: "$nul" }), null);
    assert.equal(await trunc({ date: "$d", unit: "hour", timezone: "$nul" }), null);
    assert.equal(await trunc({ date: "$d", unit: "week", startOfWeek: "$nul" }), null);
    assert.equal(await trunc({ date: "$str", unit: "$nul", binSize: 1, timezone: "$str" }), null);
    await refused(
      { $dateTrunc: { date: "$d", unit: "hour", binSize: "Number" } },
      5439017,
      "$dateTrunc requires 'binSize' to be a 64-bit integer, but got value '\"Number\"' of type string",
    );
    await refused(
      { $dateTrunc: { date: "$d", unit: "$nul", binSize: 2.5 } },
      5439017,
      "$dateTrunc requires 'binSize' to be a 64-bit integer, but got value '2.5' of type double",
    );
    await refused(
      { $dateTrunc: { date: "$d", unit: "hour", binSize: 0 } },
      5439018,
      "$dateTrunc requires 'binSize' to be greater than 0, but got value 0",
    );
    await refused({ $dateTrunc: { date: "$d", unit: "$one" } }, 5439013);
    await refused(
      { $dateTrunc: { date: "$d", unit: "century" } },
      9,
      "$dateTrunc parameter 'unit' value parsing failed :: caused by :: unknown time unit value: century",
    );
    await refused({ $dateTrunc: { date: "$d", unit: "hour", timezone: "$one" } }, 40517);
    await refused(
      { $dateTrunc: { date: "$d", unit: "hour", timezone: "America/Invalid" } },
      40485,
      /^\$dateTrunc parameter 'timezone' value parsing failed :: caused by :: /,
    );
    await refused({ $dateTrunc: { date: "$d", unit: "week", startOfWeek: "$one" } }, 5439015);
    await refused({ $dateTrunc: { date: "$d", unit: "week", startOfWeek: "FRIDIE" } }, 5439016);
    await refused(
      { $dateTrunc: { date: "$str", unit: "hour", timezone: "UTC" } },
      5166307,
      "$dateTrunc requires 'date' to be a date, but got string",
    );
    await refused(
      { $dateTrunc: "A" },
      5439007,
      "$dateTrunc only supports an object as its argument",
    );
    await refused(
      { $dateTrunc: { endDate: 1 } },
      5439008,
      "Unrecognized argument to $dateTrunc: endDate. Expected arguments are date, unit, and optionally, binSize, timezone, startOfWeek",
    );
    await refused(
      { $dateTrunc: { unit: "week" } },
      5439009,
      "Missing 'date' parameter to $dateTrunc",
    );
    await refused(
      { $dateTrunc: { date: "$d" } },
      5439010,
      "Missing 'unit' parameter to $dateTrunc",
    );
    const empty = probe(c.db("app").collection<Doc>("none")).refused;
    await empty({ $dateTrunc: { date: "$d", unit: "$u", binSize: 0 } }, 5439018);
    await empty({ $dateTrunc: { date: "$d", unit: "$u", timezone: "Nowhere" } }, 40485);
  });
});

Deno.test("simulator: $dateFromParts places the parts with the zone's offset at that date (not today's), carries parts past their range as mongod does (Feb 31 is Mar 3), ISO weeks, mongod's nulls, order and error codes", async () => {
  await withMongod(async (c) => {
    const s = c.db("app").collection<Doc>("parts");
    await s.insertOne({
      _id: 1,
      year: Decimal128.fromString("2017"),
      month: 6,
      day: 19,
      hour: Long.fromNumber(15),
      minute: Decimal128.fromString("1"),
      second: 51,
      ms: 551,
      str: "2017",
      half: 2017.5,
      nul: null,
      big: 32768,
      huge: 18014398509481984,
      tz: "Europe/Berlin",
    });
    const { value, refused } = probe(s);
    const parts = (spec: Document) => value({ $dateFromParts: spec });
    // The offset at the date, whatever today's is: New York is -4 in July and -5 in January.
    assert.deepEqual(
      await parts({ year: 2024, month: 7, day: 1, hour: 12, timezone: "America/New_York" }),
      new Date("2024-07-01T16:00:00Z"),
    );
    assert.deepEqual(
      await parts({ year: 2024, month: 1, day: 1, hour: 12, timezone: "America/New_York" }),
      new Date("2024-01-01T17:00:00Z"),
    );
    // Out-of-range parts carry over (timelib's normalization); the engine gave Feb 29.
    const carry: [Document, string][] = [
      [{ year: 2021, month: 2, day: 31 }, "2021-03-03T00:00:00Z"],
      [{ year: 2017, month: 14 }, "2018-02-01T00:00:00Z"],
      [{ year: 2017, month: -1 }, "2016-11-01T00:00:00Z"],
      [{ year: 2017, day: 0 }, "2016-12-31T00:00:00Z"],
      [{ year: 2017, hour: 25 }, "2017-01-02T01:00:00Z"],
      [{ year: 2017, minute: -1 }, "2016-12-31T23:59:00Z"],
      [{ year: 2017, second: 71841012 }, "2019-04-12T11:50:12Z"],
      [{ year: 2017, millisecond: -1 }, "2016-12-31T23:59:59.999Z"],
      [{ year: 1970, millisecond: Long.fromString("1502095918551") }, "2017-08-07T08:51:58.551Z"],
      [{ year: 1 }, "0001-01-01T00:00:00Z"],
      [{ isoWeekYear: 2017, isoWeek: 6, isoDayOfWeek: 4 }, "2017-02-09T00:00:00Z"],
      [{ isoWeekYear: 2017, isoWeek: 53 }, "2018-01-01T00:00:00Z"],
    ];
    for (const [spec, expected] of carry) {
      assert.deepEqual(await parts(spec), new Date(expected), JSON.stringify(spec));
    }
    // date_from_parts.js: parts of any numeric type, offsets and names.
    const fields = {
      year: "$year",
      month: "$month",
      day: "$day",
      hour: "$hour",
      minute: "$minute",
      second: "$second",
      millisecond: "$ms",
    };
    const zones: [string, string][] = [
      ["-04:00", "2017-06-19T19:01:51.551Z"],
      ["+03", "2017-06-19T12:01:51.551Z"],
      ["-0320", "2017-06-19T18:21:51.551Z"],
      ["America/New_York", "2017-06-19T19:01:51.551Z"],
      ["Europe/Amsterdam", "2017-06-19T13:01:51.551Z"],
      ["UTC", "2017-06-19T15:01:51.551Z"],
      ["GMT", "2017-06-19T15:01:51.551Z"],
      ["America/Argentina/Buenos_Aires", "2017-06-19T18:01:51.551Z"],
    ];
    for (const [zone, expected] of zones) {
      assert.deepEqual(await parts({ ...fields, timezone: zone }), new Date(expected), zone);
    }
    assert.deepEqual(
      await parts({
        isoWeekYear: "$year",
        isoWeek: 25.0,
        isoDayOfWeek: 1,
        hour: "$hour",
        minute: "$minute",
        second: "$second",
        millisecond: "$ms",
        timezone: "-04:00",
      }),
      new Date("2017-06-19T19:01:51.551Z"),
    );
    assert.deepEqual(
      await parts({ year: 2017, month: 6, day: 23, hour: 14, minute: 27, timezone: "$tz" }),
      new Date("2017-06-23T12:27:00Z"),
    );
    // A local time in a gap moves forward by the gap; in an overlap it is the earlier instant
    // west of Greenwich, the later east of it (timelib's do_adjust_timezone).
    const local = { year: 2021, minute: 30 };
    assert.deepEqual(
      await parts({ ...local, month: 3, day: 14, hour: 2, timezone: "America/New_York" }),
      new Date("2021-03-14T07:30:00Z"),
    );
    assert.deepEqual(
      await parts({ ...local, month: 11, day: 7, hour: 1, timezone: "America/New_York" }),
      new Date("2021-11-07T05:30:00Z"),
    );
    assert.deepEqual(
      await parts({ ...local, month: 10, day: 31, hour: 2, timezone: "Europe/Paris" }),
      new Date("2021-10-31T01:30:00Z"),
    );
    // Nulls; hour, minute, second, millisecond, then the zone, then year, month, day.
    assert.equal(await parts({ year: "$missing" }), null);
    assert.equal(await parts({ year: 2017, timezone: "$missing" }), null);
    assert.equal(await parts({ isoWeekYear: 2017, isoDayOfWeek: "$nul" }), null);
    assert.equal(await parts({ year: "$str", hour: "$nul" }), null);
    assert.equal(await parts({ year: "$str", timezone: "$nul" }), null);
    await refused({ $dateFromParts: { year: "$str", timezone: 5 } }, 40517);
    await refused(
      { $dateFromParts: { year: "$str" } },
      40515,
      "'year' must evaluate to an integer, found string with value \"2017\"",
    );
    await refused(
      { $dateFromParts: { year: "$half" } },
      40515,
      "'year' must evaluate to an integer, found double with value 2017.5",
    );
    await refused(
      { $dateFromParts: { year: 2017, millisecond: "$str", hour: "$big" } },
      31034,
      "'hour' must evaluate to a value in the range [-32768, 32767]; value 32768 is not in range",
    );
    await refused(
      { $dateFromParts: { year: "$month", month: "$big" } },
      31034,
      /^'month' must evaluate/,
    );
    await refused(
      { $dateFromParts: { year: 10000, hour: "$hour" } },
      40523,
      "'year' must evaluate to an integer in the range 1 to 9999, found 10000",
    );
    await refused(
      { $dateFromParts: { isoWeekYear: 0, hour: "$hour" } },
      31095,
      "'isoWeekYear' must evaluate to an integer in the range 1 to 9999, found 0",
    );
    await refused({ $dateFromParts: { year: 2012, timezone: "DoesNot/Exist" } }, 40485);
    const e = await refused(
      { $dateFromParts: { year: 1970, millisecond: "$huge" } },
      15,
      "Overflow casting from a lower-precision duration to a higher-precision duration",
    );
    assert.equal(e.codeName, "DurationOverflow");
    // Parse errors.
    await refused(
      { $dateFromParts: true },
      40519,
      "$dateFromParts only supports an object as its argument",
    );
    await refused({ $dateFromParts: [] }, 40519);
    await refused(
      { $dateFromParts: { unknown: true } },
      40518,
      "Unrecognized argument to $dateFromParts: unknown",
    );
    await refused(
      { $dateFromParts: {} },
      40516,
      "$dateFromParts requires either 'year' or 'isoWeekYear' to be present",
    );
    await refused(
      { $dateFromParts: { isoWeekYear: 2017, year: 2017 } },
      40489,
      "$dateFromParts does not allow mixing natural dates with ISO dates",
    );
    await refused(
      { $dateFromParts: { isoWeekYear: 2017, day: 17 } },
      40525,
      "$dateFromParts does not allow mixing ISO dates with natural dates",
    );
    // All constants: evaluated when parsed; a constant zone: checked when parsed.
    const empty = probe(c.db("app").collection<Doc>("none")).refused;
    await empty({ $dateFromParts: { year: false } }, 40515);
    await empty({ $dateFromParts: { year: "$y", timezone: "Nowhere" } }, 40485);
    await empty({ $dateFromParts: { year: "$y", month: { $dateFromParts: { year: 0 } } } }, 40523);
  });
});
