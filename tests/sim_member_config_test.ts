/**
 * What a replica-set member refuses of a configuration's members (member_config.idl, 7.0), a
 * forced reconfig's version and term, the concerns a command does not take, and the fields that
 * tell hello from the legacy isMaster (tester94).
 */
import assert from "node:assert/strict";
import { MongoClient } from "mongodb";
import { freePorts } from "./helpers.ts";
import { admin, adminError, simBin, startReplSet, withDir } from "./sim_helpers.ts";

type Config = { version: number; term: number; members: Record<string, unknown>[] };

Deno.test("simulator: a reconfig with a member's votes, priority, _id, tags or buildIndexes out of what MongoDB takes is refused and stores nothing; a forced one jumps its version by 10,000 or more with term -1; writes refuse a readConcern, reads a writeConcern (72); hello and isMaster name the primary each its own way; a step-down period of 0 is 60 s", async () => {
  await withDir(async (dir) => {
    const [port] = freePorts(1);
    await startReplSet(await simBin("7.0.5"), dir, [port]);
    const config = async () => (await admin(port, { replSetGetConfig: 1 })).config as Config;
    const before = await config();
    const next = (member: Record<string, unknown>) => ({
      ...before,
      version: before.version + 1,
      members: [{ ...before.members[0], ...member }],
    });
    const refusals: [Record<string, unknown>, number, RegExp][] = [
      [{ votes: 2 }, 93, /MemberConfig\.votes' value must be <= 1, actual value '2'/],
      [{ votes: -1, priority: 0 }, 93, /MemberConfig\.votes' value must be >= 0/],
      [{ votes: 0.5 }, 93, /priority must be 0 when non-voting/],
      [{ priority: 1001 }, 93, /MemberConfig\.priority' value must be <= 1000/],
      [{ priority: -1 }, 93, /MemberConfig\.priority' value must be >= 0/],
      [{ _id: -1 }, 93, /_id field value of -1 can't be a negative number/],
      [{ tags: { dc: 1 } }, 93, /tags\.dc field has non-string value/],
      [{ buildIndexes: false }, 93, /priority must be 0 when buildIndexes=false/],
    ];
    for (const [member, code, message] of refusals) {
      const e = await adminError(port, { replSetReconfig: next(member) });
      assert.equal(e.code, code, `${JSON.stringify(member)}: ${e.message}`);
      assert.match(e.message, message);
    }
    assert.deepEqual(await config(), before, "nothing was stored");

    const forced = await admin(port, { replSetReconfig: next({}), force: true });
    assert.equal(forced.ok, 1);
    const after = await config();
    assert.ok(
      after.version >= before.version + 10_000 && after.version < before.version + 110_001,
      `version ${before.version} → ${after.version}`,
    );
    assert.equal(after.term, -1);
    const status = await admin(port, { replSetGetStatus: 1 }) as {
      members: { self?: boolean; configTerm: number }[];
    };
    assert.equal(status.members.find((m) => m.self)?.configTerm, -1);

    const client = new MongoClient(`mongodb://localhost:${port}/?directConnection=true`);
    try {
      const db = client.db("t");
      const e1 = await db.command({
        insert: "c",
        documents: [{ _id: 1 }],
        readConcern: { level: "majority" },
      }).then(() => undefined, (e) => e);
      assert.equal(e1?.code, 72, String(e1));
      assert.match(e1.message, /does not support \{ readConcern/);
      assert.equal(await db.collection("c").countDocuments({}), 0, "nothing was inserted");
      const e2 = await db.command({ find: "c", writeConcern: { w: 1 } })
        .then(() => undefined, (e) => e);
      assert.equal(e2?.code, 72, String(e2));
      assert.match(e2.message, /does not support writeConcern/);
      // aggregate takes one, whatever its stages (aggregation_accepts_write_concern.js).
      const agg = await db.command({
        aggregate: "c",
        pipeline: [],
        cursor: {},
        writeConcern: { w: 1 },
      });
      assert.equal(agg.ok, 1);

      const hello = await db.admin().command({ hello: 1 });
      assert.equal(hello.isWritablePrimary, true);
      assert.equal("ismaster" in hello, false, "hello answers isWritablePrimary only");
      const legacy = await db.admin().command({ isMaster: 1 });
      assert.equal(legacy.ismaster, true);
      assert.equal("isWritablePrimary" in legacy, false, "isMaster answers ismaster only");

      // 0 is the default period (60 s), longer than the catch-up period asked; a negative one
      // is refused.
      const negative = await adminError(port, { replSetStepDown: -1, force: true });
      assert.equal(negative.code, 2);
      assert.match(negative.message, /stepdown period must be a positive integer/);
      await admin(port, { replSetStepDown: 0, secondaryCatchUpPeriodSecs: 1, force: true });
      assert.equal((await db.admin().command({ hello: 1 })).isWritablePrimary, false);
    } finally {
      await client.close();
    }
  });
});
