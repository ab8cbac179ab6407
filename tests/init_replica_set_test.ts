/**
 * init_replica_set against real members (simulator processes, through the official driver) of a
 * set that is already initiated while the member listed first has no config (its data wiped, a
 * network partition keeping the others' heartbeats from handing it the config): isDone asks
 * every member, so the set is in place and no second replSetInitiate is sent; a plan whose
 * members differ from the set's config fails, naming the difference, and initiates nothing.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { freePorts, output } from "./helpers.ts";
import {
  admin,
  adminError,
  runBin,
  simBin,
  startMongod,
  startReplSet,
  stopMongod,
  waitFor,
  withDir,
} from "./sim_helpers.ts";
import { opContext } from "./op_context.ts";
import { installFixture } from "./fixture.ts";
import { initReplicaSet } from "../lib/ops/init_replica_set.ts";
import { Topology } from "../lib/topology/schema.ts";

installFixture();

/** How many replSetInitiate commands the member on `port` received (its log, MongoDB's id 21356). */
async function initiatesReceived(dir: string, port: number): Promise<number> {
  const log = await Deno.readTextFile(path.join(dir, String(port), "log"));
  return log.split("\n").filter((l) => l.includes('"id":21356')).length;
}

Deno.test("init_replica_set: a set initiated while its first-listed member has no config is in place; no second replSetInitiate; other members than planned fail, naming them", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const [a, b, c, d] = freePorts(4);
    await startReplSet(bin, dir, [a, b, c]); // initiated on a, members a (priority 2), b, c
    // a's data wiped; it comes back empty, cut off from b and c, so it stays without a config.
    await stopMongod(dir, a);
    await Deno.remove(path.join(dir, String(a)), { recursive: true });
    const r = await startMongod(bin, dir, a, ["--replSet", "rs0"], { MUP_SIM_PARTITIONED: "1" });
    assert.equal(r.code, 0, output(r));
    assert.equal((await adminError(a, { replSetGetStatus: 1 })).code, 94, "a has no config");
    await waitFor(async () =>
      (await admin(b, { hello: 1 })).isWritablePrimary === true ||
      (await admin(c, { hello: 1 })).isWritablePrimary === true || undefined, 30_000);
    // The simulator answers a second replSetInitiate as MongoDB does.
    const again = await adminError(b, { replSetInitiate: {} });
    assert.equal(again.code, 23);
    assert.equal(again.codeName, "AlreadyInitialized");
    const before = [await initiatesReceived(dir, b), await initiatesReceived(dir, c)];
    assert.equal(before[0], 1, "b's log counts the replSetInitiate it just refused");

    const members = (ports: number[]) =>
      ports.map((p, i) => ({
        _id: i,
        host: `localhost:${p}`,
        ...(i === 0 ? { priority: 2 } : {}),
      }));
    const topology = Topology.parse({
      global: { security: { auth: false } },
      mongod_servers: [a, b, c, d].map((port) => ({ host: "localhost", port, replica_set: "rs0" })),
    });
    const ctx = (ports: number[]) =>
      opContext(
        {
          id: "init-rs0",
          type: "init_replica_set",
          target: {
            type: "replica_set",
            name: "rs0",
            params: { config: JSON.stringify({ _id: "rs0", members: members(ports) }) },
          },
        },
        { plan_id: "plan-test", cluster_name: "t", topology, deploy_dir: dir },
      );

    // The planned set is the set's: in place, though a (asked first) has no config.
    assert.equal(await initReplicaSet.isDone(ctx([a, b, c])), true);
    const ran = await initReplicaSet.run(ctx([a, b, c]));
    assert.match(ran.output ?? "", /^already initiated \(config found on localhost:\d+\); primary/);
    assert.equal(ran.metadata?.already_initiated, true);
    assert.equal(await initiatesReceived(dir, a), 0, "no replSetInitiate reached a");
    assert.deepEqual(
      [await initiatesReceived(dir, b), await initiatesReceived(dir, c)],
      before,
      "no replSetInitiate reached b or c",
    );

    // A plan with a member the set's config lacks (a fresh d): not done, and an error naming d
    // and what adds members; nothing initiated.
    assert.equal((await startMongod(bin, dir, d, ["--replSet", "rs0"])).code, 0);
    assert.equal(await initReplicaSet.isDone(ctx([d, a, b, c])), false);
    await assert.rejects(initReplicaSet.run(ctx([d, a, b, c])), (e: Error) => {
      assert.match(
        e.message,
        /replica set rs0 is already initiated \(localhost:\d+ holds its config\)/,
      );
      assert.match(e.message, new RegExp(`planned, not in its config: localhost:${d}`));
      assert.match(e.message, /adding members needs `mup cluster scale-out`/);
      return true;
    });
    assert.equal(await initiatesReceived(dir, d), 0, "no replSetInitiate reached d");
    // A plan without a member the config has: named the other way round.
    await assert.rejects(
      initReplicaSet.run(ctx([b, c])),
      new RegExp(`in its config, not planned: localhost:${a}`),
    );
    assert.equal(await initiatesReceived(dir, a), 0);
  });
});

Deno.test("init_replica_set: AlreadyInitialized from a member whose config is not the planned set's is an error naming it, never an initiation", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const [p, q] = freePorts(2);
    assert.equal((await startMongod(bin, dir, p, ["--replSet", "rs0"])).code, 0);
    await admin(p, {
      replSetInitiate: { _id: "rs0", members: [{ _id: 0, host: `localhost:${p}` }] },
    });
    await waitFor(async () =>
      (await admin(p, { hello: 1 })).isWritablePrimary === true || undefined
    );
    await stopMongod(dir, p);
    // The same data served on port q: its stored config names localhost:p, so the member on q
    // is in no set's config (replSetGetStatus: 93) yet holds one (replSetInitiate: 23).
    const data = path.join(dir, String(p));
    const r = await runBin(path.join(bin, "mongod"), [
      ...["--port", String(q), "--dbpath", data, "--fork", "--logpath", path.join(data, "log-q")],
      ...["--pidfilepath", path.join(data, "mongod.pid"), "--bind_ip", "127.0.0.1"],
      ...["--replSet", "rs0"],
    ]);
    assert.equal(r.code, 0, output(r));
    assert.equal((await adminError(q, { replSetGetStatus: 1 })).code, 93);

    const topology = Topology.parse({
      global: { security: { auth: false } },
      mongod_servers: [{ host: "localhost", port: q, replica_set: "rs0" }],
    });
    const ctx = opContext(
      {
        id: "init-rs0",
        type: "init_replica_set",
        target: {
          type: "replica_set",
          name: "rs0",
          timeout_ms: 3000,
          params: {
            config: JSON.stringify({ _id: "rs0", members: [{ _id: 0, host: `localhost:${q}` }] }),
          },
        },
      },
      { plan_id: "plan-test", cluster_name: "t", topology, deploy_dir: dir },
    );
    assert.equal(await initReplicaSet.isDone(ctx), false);
    await assert.rejects(
      initReplicaSet.run(ctx),
      new RegExp(
        `replSetInitiate for rs0 on localhost:${q} answered AlreadyInitialized \\(code 23\\), ` +
          `but no planned member reports a config of rs0`,
      ),
    );
  });
});
