/**
 * A delayed member (secondaryDelaySecs, priority 0, hidden) applies each entry that long after
 * the primary wrote it: a read on it does not see a new write before then, and a write concern
 * that needs it waits as long. https://www.mongodb.com/docs/manual/core/replica-set-delayed-member/
 */
import assert from "node:assert/strict";
import { MongoClient } from "mongodb";
import { freePorts } from "./helpers.ts";
import { admin, simBin, startReplSet, waitFor, withDir } from "./sim_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

Deno.test("simulator: a delayed member applies entries secondaryDelaySecs after they were written, and w: all members waits for it; a delayed member must have priority 0", async () => {
  await withDir(async (dir) => {
    const ports = freePorts(3);
    await startReplSet(await simBin("7.0.5"), dir, ports);
    const config = (await admin(ports[0], { replSetGetConfig: 1 })).config as {
      version: number;
      members: Record<string, unknown>[];
    };
    const delayed = (extra: Record<string, unknown>, version: number) => ({
      ...config,
      version,
      members: config.members.map((m, i) => i === 2 ? { ...m, ...extra } : m),
    });
    const refused = await admin(ports[0], {
      replSetReconfig: delayed({ secondaryDelaySecs: 3 }, config.version + 1),
    }).then(() => undefined, (e: { message?: string }) => e.message);
    assert.match(refused ?? "", /priority must be 0 when secondaryDelaySecs is used/);
    await admin(ports[0], {
      replSetReconfig: delayed(
        { secondaryDelaySecs: 3, priority: 0, hidden: true },
        config.version + 1,
      ),
    });
    const hello = await admin(ports[2], { hello: 1 });
    assert.equal(hello.secondaryDelaySecs, 3);
    // Hidden and priority 0: passive too, as every priority-0 member is (tester88).
    assert.deepEqual([hello.hidden, hello.passive], [true, true]);
    const primary = new MongoClient(`mongodb://localhost:${ports[0]}/?directConnection=true`);
    const late = new MongoClient(
      `mongodb://localhost:${ports[2]}/?directConnection=true&readPreference=secondary`,
    );
    try {
      const t0 = Date.now();
      await primary.db("app").collection("d").insertOne({ _id: 1 } as never);
      const onDelayed = () => late.db("app").collection("d").findOne({ _id: 1 } as never);
      assert.equal(await onDelayed(), null, "not there at once");
      await waitFor(async () => (await onDelayed()) !== null || undefined, 30_000);
      assert.ok(Date.now() - t0 >= 2500, `applied after ${Date.now() - t0} ms`);
      // A write every member must acknowledge waits for the delayed one too.
      const t1 = Date.now();
      await primary.db("app").collection("d").insertOne(
        { _id: 2 } as never,
        { writeConcern: { w: 3 } },
      );
      assert.ok(Date.now() - t1 >= 2500, `w: 3 acknowledged after ${Date.now() - t1} ms`);
    } finally {
      await primary.close();
      await late.close();
    }
  });
});
