/**
 * The simulator's `newlyAdded` (MongoDB 4.4+, SERVER-46344): members a reconfig adds with
 * votes:1 count as no voter until they have data, so two can join in one reconfig and the set's
 * majority stays what it was; the primary then clears the field with reconfigs of its own, which
 * take config versions (a client's next reconfig must read the config again). replSetGetConfig
 * leaves the field out; local.system.replset holds it; a client may not set it.
 */
import assert from "node:assert/strict";
import { MongoClient, ObjectId } from "mongodb";
import * as path from "node:path";
import { freePorts } from "./helpers.ts";
import {
  admin,
  adminError,
  memberState,
  pidOf,
  simBin,
  startMongod,
  startReplSet,
  waitFor,
  withDir,
} from "./sim_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

type Member = { _id: number; host: string; votes?: number; newlyAdded?: boolean };
type Config = { version: number; term?: number; members: Member[] };

Deno.test("simulator: members added with votes:1 are newlyAdded (no voters) until SECONDARY, two may join in one reconfig, and the primary clears the field with reconfigs of its own", async () => {
  await withDir(async (dir) => {
    const ports = freePorts(3);
    const bin = await simBin("7.0.5");
    await startReplSet(bin, dir, ports.slice(0, 1));
    const frozen: number[] = [];
    const c = new MongoClient(
      `mongodb://localhost:${ports[0]}/?directConnection=true&serverSelectionTimeoutMS=30000`,
    );
    try {
      await c.db("app").collection("t").insertOne({ n: 1 });
      // The new members start, then are frozen: neither can sync nor answer a heartbeat.
      for (const p of ports.slice(1)) {
        assert.equal((await startMongod(bin, dir, p, ["--replSet", "rs0"])).code, 0);
        frozen.push(pidOf(dir, p));
        Deno.kill(frozen.at(-1)!, "SIGSTOP");
      }
      const cfg = (await admin(ports[0], { replSetGetConfig: 1 })).config as Config;
      delete cfg.term;
      const v = cfg.version;
      cfg.version++;
      cfg.members.push(...ports.slice(1).map((p, i) => ({ _id: i + 1, host: `localhost:${p}` })));
      // Two voting members at once: allowed, since neither votes yet (before 4.4: code 103).
      assert.ok((await admin(ports[0], { replSetReconfig: cfg })).ok);

      const shown = (await admin(ports[0], { replSetGetConfig: 1 })).config as Config;
      assert.equal(shown.version, v + 1);
      assert.ok(shown.members.every((m) => !("newlyAdded" in m)), "replSetGetConfig hides it");
      // The settings rs.conf() shows, the set's identity kept from its initiation (tester81).
      const settings = (shown as unknown as { settings: Record<string, unknown> }).settings;
      for (const k of ["catchUpTakeoverDelayMillis", "getLastErrorModes", "getLastErrorDefaults"]) {
        assert.ok(k in settings, k);
      }
      assert.ok(
        (settings.replicaSetId as ObjectId).equals(
          (cfg as unknown as { settings: { replicaSetId: ObjectId } }).settings.replicaSetId,
        ),
        "the reconfig kept the set's replicaSetId",
      );
      const otherId = await adminError(ports[0], {
        replSetReconfig: {
          ...shown,
          version: shown.version + 1,
          settings: { ...settings, replicaSetId: new ObjectId() },
        },
      });
      assert.equal(otherId.code, 103, otherId.message);
      assert.match(otherId.message, /differ in replica set ID/);
      const stored = await c.db("local").collection("system.replset").findOne(
        {},
      ) as unknown as Config;
      assert.deepEqual(
        stored.members.map((m) => m.newlyAdded ?? false),
        [false, true, true],
        "local.system.replset holds it",
      );
      const status = await admin(ports[0], { replSetGetStatus: 1 });
      assert.deepEqual(
        [status.votingMembersCount, status.majorityVoteCount, status.writeMajorityCount],
        [1, 1, 1],
      );
      // The majority is still the primary alone: a w:majority write needs neither new member.
      await c.db("app").collection("t").insertOne({ n: 2 }, {
        writeConcern: { w: "majority", wtimeoutMS: 5000 },
      });
      assert.ok((await admin(ports[0], { hello: 1 })).isWritablePrimary);

      // A client may not set the field.
      const refused = await adminError(ports[0], {
        replSetReconfig: {
          ...shown,
          term: undefined,
          version: shown.version + 1,
          members: shown.members.map((m) => m._id === 1 ? { ...m, newlyAdded: true } : m),
        },
      });
      assert.deepEqual([refused.code, refused.codeName], [93, "InvalidReplicaSetConfig"]);
      assert.match(refused.message, /Cannot provide newlyAdded field to member config/);

      // Thawed, both sync; once SECONDARY each loses the field in a reconfig of the primary's.
      for (const pid of frozen.splice(0)) Deno.kill(pid, "SIGCONT");
      for (const p of ports.slice(1)) {
        await waitFor(async () => (await memberState(p)) === "SECONDARY" || undefined, 30_000);
      }
      const cleared = await waitFor(async () => {
        const s = await c.db("local").collection("system.replset").findOne({}) as unknown as Config;
        return s.members.some((m) => m.newlyAdded) ? undefined : s;
      }, 30_000);
      assert.equal(cleared.version, v + 3, "one reconfig per member");
      const after = await admin(ports[0], { replSetGetStatus: 1 });
      assert.deepEqual([after.votingMembersCount, after.majorityVoteCount], [3, 2]);
      // A reconfig built on the version the client read first is refused (103), as a real
      // server's is after its own reconfigs.
      const stale = await adminError(ports[0], { replSetReconfig: { ...cfg, version: v + 2 } });
      assert.equal(stale.code, 103);
    } finally {
      for (const pid of frozen) Deno.kill(pid, "SIGCONT");
      await c.close();
    }
  });
});

Deno.test("simulator: the primary's own reconfig that clears newlyAdded is refused while it would change the implicit default write concern (P S S A + S: {w: 1} to majority), and runs once a cluster-wide default is set", async () => {
  await withDir(async (dir) => {
    const ports = freePorts(5);
    const bin = await simBin("7.0.5");
    for (const p of ports) {
      assert.equal((await startMongod(bin, dir, p, ["--replSet", "rs0"])).code, 0);
    }
    // replSetInitiate is not a reconfig: the set begins with its arbiter ({w: 1}: 3 data-bearing
    // voters of 4, a majority of 3).
    await admin(ports[0], {
      replSetInitiate: {
        _id: "rs0",
        members: [
          { _id: 0, host: `localhost:${ports[0]}`, priority: 2 },
          { _id: 1, host: `localhost:${ports[1]}` },
          { _id: 2, host: `localhost:${ports[2]}` },
          { _id: 3, host: `localhost:${ports[3]}`, arbiterOnly: true },
        ],
      },
    });
    await waitFor(async () => (await admin(ports[0], { hello: 1 })).isWritablePrimary || undefined);
    const cfg = (await admin(ports[0], { replSetGetConfig: 1 })).config as Config;
    delete cfg.term;
    cfg.version++;
    cfg.members.push({ _id: 4, host: `localhost:${ports[4]}` });
    // Added newlyAdded, the member does not vote: the implicit default stays {w: 1}.
    assert.ok((await admin(ports[0], { replSetReconfig: cfg })).ok);
    await waitFor(async () => (await memberState(ports[4])) === "SECONDARY" || undefined, 30_000);

    const c = new MongoClient(`mongodb://localhost:${ports[0]}/?directConnection=true`);
    try {
      const stored = async () =>
        await c.db("local").collection("system.replset").findOne({}) as unknown as Config;
      // Once voting it would make the default majority (4 data-bearing voters of 5): refused.
      const log = path.join(dir, String(ports[0]), "log");
      await waitFor(
        async () =>
          (await Deno.readTextFile(log)).includes("Failed to remove 'newlyAdded' config field") ||
          undefined,
        30_000,
      );
      assert.equal((await stored()).members.find((m) => m._id === 4)?.newlyAdded, true);
      const status = await admin(ports[0], { replSetGetStatus: 1 });
      assert.equal(status.votingMembersCount, 4, "the new member still has no vote");
      assert.equal(
        (await admin(ports[0], { getDefaultRWConcern: 1 })).defaultWriteConcern,
        undefined,
      );

      await admin(ports[0], { setDefaultRWConcern: 1, defaultWriteConcern: { w: "majority" } });
      const cleared = await waitFor(async () => {
        const s = await stored();
        return s.members.some((m) => m.newlyAdded) ? undefined : s;
      }, 30_000);
      assert.equal(cleared.members.length, 5);
      assert.equal((await admin(ports[0], { replSetGetStatus: 1 })).votingMembersCount, 5);
    } finally {
      await c.close();
    }
  });
});
