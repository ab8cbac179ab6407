/**
 * A member on the previous release series that meets a feature compatibility version it does not
 * know, however the data reaches it: replicated (it aborts before applying the entry), through a
 * rollback (it aborts before undoing anything), or by initial sync (each attempt fails; after
 * numInitialSyncAttempts it shuts down). MongoDB's rule, and the reason mup moves every member to
 * the new binary before it raises the FCV:
 * https://www.mongodb.com/docs/manual/release-notes/7.0-upgrade-replica-set/
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { MongoClient } from "mongodb";
import { freePorts, output } from "./helpers.ts";
import {
  admin,
  adminOnPrimary,
  killMember,
  memberState,
  pidOf,
  simBin,
  startMongod,
  startReplSet,
  stopMongod,
  waitFor,
  withDir,
} from "./sim_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

const gone = async (pid: number) =>
  !(await Deno.stat(`/proc/${pid}`).then(() => true, () => false)) || undefined;

const fcvOf = async (port: number) =>
  ((await admin(port, { getParameter: 1, featureCompatibilityVersion: 1 }))
    .featureCompatibilityVersion as { version: string }).version;

Deno.test("simulator: a member still on the previous release aborts when it replicates the raised FCV, before applying it", async () => {
  await withDir(async (dir) => {
    const ports = freePorts(3);
    const [v6, v7] = [await simBin("6.0.19"), await simBin("7.0.5")];
    await startReplSet(v6, dir, ports);
    // Two members move to 7.0 (the preferred primary among them); the third stays on 6.0.
    for (const p of [ports[1], ports[0]]) {
      await stopMongod(dir, p);
      const r = await startMongod(v7, dir, p, ["--replSet", "rs0", "--logappend"]);
      assert.equal(r.code, 0, output(r));
    }
    await waitFor(
      async () => (await admin(ports[0], { hello: 1 })).isWritablePrimary || undefined,
      30_000,
    );
    await waitFor(async () => (await memberState(ports[2])) === "SECONDARY" || undefined, 30_000);
    const old = pidOf(dir, ports[2]);
    // The primary (7.0) raises the FCV with w: majority, which the two 7.0 members make.
    // On the 7.0 members' primary: a loaded machine may see them elect again meanwhile.
    await adminOnPrimary(ports.slice(0, 2), {
      setFeatureCompatibilityVersion: "7.0",
      confirm: true,
    });
    await waitFor(
      async () => !(await Deno.stat(`/proc/${old}`).then(() => true, () => false)) || undefined,
      30_000,
    );
    const log = await Deno.readTextFile(path.join(dir, String(ports[2]), "log"));
    assert.match(
      log,
      /"s":"F".*"Fatal assertion".*Invalid feature compatibility version value '7\.0'/,
    );
    // It never applied the entry: its data still says 6.0, so a 7.0 binary can take it over.
    const r = await startMongod(v7, dir, ports[2], ["--replSet", "rs0", "--logappend"]);
    assert.equal(r.code, 0, output(r));
    await waitFor(async () => (await memberState(ports[2])) === "SECONDARY" || undefined, 30_000);
    const fcv = async () =>
      (await admin(ports[2], { getParameter: 1, featureCompatibilityVersion: 1 }))
        .featureCompatibilityVersion as { version: string };
    await waitFor(async () => (await fcv()).version === "7.0" || undefined);
  });
});

Deno.test("simulator: a member on the previous release that must roll back past a raised FCV aborts before undoing anything; from an empty dbpath each initial sync attempt fails, then it shuts down (40088)", async () => {
  await withDir(async (dir) => {
    const ports = freePorts(3);
    const [v6, v7] = [await simBin("6.0.19"), await simBin("7.0.5")];
    await startReplSet(v6, dir, ports);
    const client = new MongoClient(
      `mongodb://localhost:${ports[0]}/?directConnection=true&retryWrites=false`,
    );
    const frozen = ports.slice(1).map((p) => pidOf(dir, p));
    try {
      const coll = client.db("app").collection("fcv");
      await coll.insertOne({ _id: "kept" as never }, { writeConcern: { w: "majority" } });
      // The secondaries freeze, so the next write reaches no one; killed while frozen, they
      // never read what the primary sent meanwhile. Journaled, the write outlives the kill.
      for (const pid of frozen) Deno.kill(pid, "SIGSTOP");
      await coll.insertOne({ _id: "diverged" as never }, { writeConcern: { w: 1, j: true } });
      for (const p of ports) await killMember(dir, p);
    } finally {
      await client.close();
    }
    // The other two come back on 7.0, elect a primary and raise the FCV without member 0.
    for (const p of ports.slice(1)) {
      const r = await startMongod(v7, dir, p, ["--replSet", "rs0", "--logappend"]);
      assert.equal(r.code, 0, output(r));
    }
    // On whichever is primary when it is sent: a loaded machine may see the two elect again.
    await adminOnPrimary(ports.slice(1), { setFeatureCompatibilityVersion: "7.0", confirm: true });
    // Member 0, still on 6.0, holds an entry the others never had: it must roll back, and the
    // source's history after the common point raises the FCV.
    let r = await startMongod(v6, dir, ports[0], ["--replSet", "rs0", "--logappend"]);
    assert.equal(r.code, 0, output(r));
    let pid = pidOf(dir, ports[0]);
    const log = path.join(dir, String(ports[0]), "log");
    const settled = async (pid: number) =>
      (await gone(pid)) ??
        ((await memberState(ports[0])) === "SECONDARY" && (await fcvOf(ports[0])) === "7.0"
          ? "ran on"
          : undefined);
    assert.equal(await waitFor(() => settled(pid), 30_000), true, "member 0 ran on FCV 7.0");
    let text = await Deno.readTextFile(log);
    assert.match(text, /"id":21593/, "it went into ROLLBACK");
    assert.match(
      text,
      /"s":"F".*"Fatal assertion".*Invalid feature compatibility version value '7\.0'/,
    );
    assert.doesNotMatch(text, /"id":21606/, "it completed a rollback");
    // From an empty dbpath: every attempt fails on the source's FCV, then it shuts down.
    await Deno.remove(path.join(dir, String(ports[0])), { recursive: true });
    r = await startMongod(v6, dir, ports[0], ["--replSet", "rs0"]);
    assert.equal(r.code, 0, output(r));
    pid = pidOf(dir, ports[0]);
    assert.equal(await waitFor(() => settled(pid), 60_000), true, "member 0 ran on FCV 7.0");
    text = await Deno.readTextFile(log);
    const attempts = text.split("\n").filter((l) => l.includes('"id":21200'));
    assert.equal(attempts.length, 10, text);
    assert.match(attempts[9], /"attemptsLeft":0.*Invalid feature compatibility version value/);
    assert.match(text, /"s":"F".*"msgid":40088/);
    assert.doesNotMatch(text, /"id":21192/, "an initial sync completed");
    // On 7.0 it syncs: the diverged write is gone, the FCV is 7.0.
    r = await startMongod(v7, dir, ports[0], ["--replSet", "rs0", "--logappend"]);
    assert.equal(r.code, 0, output(r));
    await waitFor(async () => (await memberState(ports[0])) === "SECONDARY" || undefined, 30_000);
    assert.equal(await fcvOf(ports[0]), "7.0");
    const direct = new MongoClient(
      `mongodb://localhost:${ports[0]}/?directConnection=true&readPreference=secondaryPreferred`,
    );
    try {
      const ids = await direct.db("app").collection("fcv").find().map((d) => d._id).toArray();
      assert.deepEqual(ids, ["kept"]);
    } finally {
      await direct.close();
    }
  });
});
