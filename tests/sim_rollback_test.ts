/**
 * A former primary that comes back with writes the set never had rolls back. MongoDB recovers
 * to the common point (recover to a stable timestamp) and keeps every majority-committed
 * document meanwhile, users included; the simulator resyncs from its source instead, and must
 * keep the same promise: the copy is swapped in whole, so the member is never seen without its
 * users, and the unreplicated write is gone afterwards.
 * https://www.mongodb.com/docs/manual/core/replica-set-rollbacks/
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { BSON, type Document, MongoClient } from "mongodb";
import { freePorts, output } from "./helpers.ts";
import {
  admin,
  killMember,
  pidOf,
  simBin,
  startMongod,
  startReplSet,
  waitFor,
  withDir,
} from "./sim_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

const CLONE_DELAY_MS = 400;
const KEY = "cm9sbGJhY2trZXlyb2xsYmFja2tleQ==\n";

const login = (p: number) =>
  new MongoClient(
    `mongodb://root:pw@localhost:${p}/?directConnection=true&retryWrites=false&serverSelectionTimeoutMS=3000`,
  );

/**
 * A keyfile set of three with user root, three collections written with w: majority, then a
 * write member 0 (the primary) alone holds, all three killed, and members 1 and 2 back with a
 * primary: member 0, started again, must roll that write back. Returns its start arguments.
 */
async function diverged(dir: string, ports: number[], bin: string): Promise<string[]> {
  const key = path.join(dir, "key");
  await Deno.writeTextFile(key, KEY, { mode: 0o400 });
  const args = ["--replSet", "rs0", "--keyFile", key, "--logappend"];
  await startReplSet(bin, dir, ports, {}, ["--keyFile", key]);
  await admin(ports[0], {
    createUser: "root",
    pwd: "pw",
    roles: ["root"],
    writeConcern: { w: "majority" },
  });
  const client = login(ports[0]);
  const frozen = ports.slice(1).map((p) => pidOf(dir, p));
  try {
    for (const c of ["a", "b", "c"]) {
      await client.db("app").collection(c).insertOne({ kept: c }, {
        writeConcern: { w: "majority" },
      });
    }
    // The secondaries freeze, so this write reaches no one; journaled, it outlives the kill.
    for (const pid of frozen) Deno.kill(pid, "SIGSTOP");
    await client.db("app").collection("a").insertOne({ diverged: true }, {
      writeConcern: { w: 1, j: true },
    });
    for (const p of ports) await killMember(dir, p);
  } finally {
    await client.close();
  }
  await startOthers(dir, ports, bin, args);
  return args;
}

/**
 * Members 1 and 2 started, until a member is primary (member 0, when it runs and has caught
 * up, takes it over: its priority is 2).
 */
async function startOthers(dir: string, ports: number[], bin: string, args: string[]) {
  for (const p of ports.slice(1)) {
    const r = await startMongod(bin, dir, p, args);
    assert.equal(r.code, 0, output(r));
  }
  await waitFor(async () => {
    for (const p of ports) {
      const hello = await admin(p, { hello: 1 }).catch(() => undefined);
      if (hello?.isWritablePrimary) return p;
    }
  }, 30_000);
}

/** What member `port` holds of app.a, read there (secondaryPreferred), without _id. */
async function appA(port: number): Promise<unknown[]> {
  const c = login(port);
  try {
    return await c.db("app").collection("a").find({}, {
      readPreference: "secondaryPreferred",
      projection: { _id: 0 },
    }).toArray();
  } finally {
    await c.close();
  }
}

/** Member `port`'s own state (replSetGetStatus, logged in as root). */
async function stateOf(port: number): Promise<string> {
  const c = login(port);
  try {
    const s = await c.db("admin").command({ replSetGetStatus: 1 });
    return String(s.members.find((m: { self?: boolean }) => m.self)?.stateStr);
  } finally {
    await c.close();
  }
}

/** Member `port`'s rollback ID, asked as __system (the internal action it needs). */
async function rbidOf(port: number): Promise<number> {
  const c = new MongoClient(
    `mongodb://__system:${
      encodeURIComponent(KEY.trim())
    }@localhost:${port}/?directConnection=true&authSource=local&authMechanism=SCRAM-SHA-256`,
  );
  try {
    return (await c.db("admin").command({ replSetGetRBID: 1 })).rbid;
  } finally {
    await c.close();
  }
}

/** The log of member `port` from character `since` on. */
async function logOf(dir: string, port: number, since = 0): Promise<string> {
  return (await Deno.readTextFile(path.join(dir, String(port), "log"))).slice(since);
}

Deno.test("simulator: a member rolling back keeps its users until its source's copy replaces them: every login during the rollback succeeds, and the unreplicated write is gone", async () => {
  await withDir(async (dir) => {
    const ports = freePorts(3);
    const bin = await simBin("7.0.5");
    const args = await diverged(dir, ports, bin);
    // Member 0 must roll back its write; each collection's copy takes CLONE_DELAY_MS.
    const since = (await logOf(dir, ports[0])).length;
    const r = await startMongod(bin, dir, ports[0], args, {
      MUP_SIM_CLONE_DELAY_MS: String(CLONE_DELAY_MS),
    });
    assert.equal(r.code, 0, output(r));
    const phase = async () => {
      const text = await logOf(dir, ports[0], since);
      return text.includes('"id":21606') ? "done" : text.includes('"id":21593') ? "rollback" : "";
    };
    // A fresh login every round, as a monitoring agent's would be, until the rollback is done.
    const refused: string[] = [];
    let duringRollback = 0;
    await waitFor(async () => {
      const before = await phase();
      if (before === "done") return true;
      const c = login(ports[0]);
      try {
        await c.db("admin").command({ connectionStatus: 1 });
        if (before === "rollback" && (await phase()) === "rollback") duringRollback++;
      } catch (e) {
        const err = e as { code?: number; message: string };
        if (err.code === 18 || /Authentication failed/.test(err.message)) {
          refused.push(`${before}: ${err.message}`);
        }
      } finally {
        await c.close();
      }
      return undefined;
    }, 60_000);
    assert.deepEqual(refused, [], "a login failed while member 0 rolled back");
    assert.ok(duringRollback >= 3, `only ${duringRollback} logins fell within the rollback`);
    assert.deepEqual(await appA(ports[0]), [{ kept: "a" }]);
    // The rollback raised member 0's rollback ID, and no other's (replSetGetRBID, as __system).
    assert.deepEqual(await Promise.all(ports.map(rbidOf)), [2, 1, 1]);
    // The rolled-back write is kept in a rollback file, as mongod's createRollbackDataFiles
    // does, and the log names it (21609; tester81). Nothing else was rolled back.
    const dirOf = path.join(dir, String(ports[0]), "rollback", "app.a");
    const files = [...Deno.readDirSync(dirOf)].map((f) => f.name);
    assert.equal(files.length, 1, files.join());
    assert.match(files[0], /^removed\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.0\.bson$/);
    const bytes = await Deno.readFile(path.join(dirOf, files[0]));
    const saved: Document[] = [];
    for (let at = 0; at < bytes.length;) {
      const size = new DataView(bytes.buffer, at, 4).getInt32(0, true);
      saved.push(BSON.deserialize(bytes.subarray(at, at + size)));
      at += size;
    }
    assert.deepEqual(saved.map(({ _id: _, ...d }) => d), [{ diverged: true }]);
    assert.deepEqual(
      [...Deno.readDirSync(path.join(dir, String(ports[0]), "rollback"))].map((f) => f.name),
      ["app.a"],
    );
    assert.match(
      await logOf(dir, ports[0], since),
      /"id":21609,.*"msg":"Preparing to write deleted documents to a rollback file".*app\.a/,
    );
    const after = login(ports[0]);
    try {
      const names = (await after.db("app").listCollections({}, { nameOnly: true }).toArray())
        .map((c) => c.name).sort();
      assert.deepEqual(names, ["a", "b", "c"]);
    } finally {
      await after.close();
    }
  });
});

Deno.test("simulator: a member killed during its rollback's copy comes back in STARTUP2, serving nothing, even alone; with its set back it resyncs without the unreplicated write (tester35)", async () => {
  await withDir(async (dir) => {
    const ports = freePorts(3);
    const bin = await simBin("7.0.5");
    const args = await diverged(dir, ports, bin);
    let since = (await logOf(dir, ports[0])).length;
    const r = await startMongod(bin, dir, ports[0], args, {
      MUP_SIM_CLONE_DELAY_MS: "5000",
    });
    assert.equal(r.code, 0, output(r));
    // Killed once its copy has begun (its resync flag is on disk), before the copy is in.
    await waitFor(async () => (await logOf(dir, ports[0], since)).includes('"id":21164'), 30_000);
    await killMember(dir, ports[0]);
    for (const p of ports.slice(1)) await killMember(dir, p);
    since = (await logOf(dir, ports[0])).length;
    const alone = await startMongod(bin, dir, ports[0], args);
    assert.equal(alone.code, 0, output(alone));
    assert.equal(await stateOf(ports[0]), "STARTUP2");
    const read = await appA(ports[0]).then(() => undefined, (e) => e as { code?: number });
    assert.equal(read?.code, 13436, "no read is served (NotPrimaryOrSecondary)");
    await startOthers(dir, ports, bin, args);
    await waitFor(
      async () => /^(SECONDARY|PRIMARY)$/.test(await stateOf(ports[0])) || undefined,
      60_000,
    );
    assert.deepEqual(await appA(ports[0]), [{ kept: "a" }]);
  });
});
