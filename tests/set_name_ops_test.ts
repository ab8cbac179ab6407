/**
 * The operations that check a replica set's effect (init_replica_set, wait_for_primary,
 * verify_health) against a real member (a simulator process, through the official driver) that
 * runs with --replSet rsX on data of set rs0: none of them takes it for done, each fails at once
 * naming the member, the set it reports, the set expected, its data directory and the fix.
 */
import assert from "node:assert/strict";
import { freePorts, output } from "./helpers.ts";
import { admin, simBin, startMongod, stopMongod, waitFor, withDir } from "./sim_helpers.ts";
import { installFixture } from "./fixture.ts";
import * as path from "node:path";
import { DefaultExecutors } from "../lib/executor/factory.ts";
import type { Operation, OperationContext } from "../lib/ops/operation.ts";
import { initReplicaSet } from "../lib/ops/init_replica_set.ts";
import { waitForPrimary } from "../lib/ops/wait_for_primary.ts";
import { verifyHealth } from "../lib/ops/verify_health.ts";
import { Topology } from "../lib/topology/schema.ts";
import { probeProcesses } from "../lib/probe/live.ts";
import { clusterAccess } from "../lib/security/access.ts";

installFixture();

Deno.test("init_replica_set, wait_for_primary, verify_health fail at once on a member of another set, naming it, both names, its data and the fix; the live probe shows it REMOVED", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const [port] = freePorts(1);
    const dbpath = path.join(dir, String(port));
    assert.equal((await startMongod(bin, dir, port, ["--replSet", "rs0"])).code, 0);
    await admin(port, { replSetInitiate: {} });
    await waitFor(async () => (await admin(port, { hello: 1 })).isWritablePrimary === true);
    await stopMongod(dir, port);
    const r = await startMongod(bin, dir, port, ["--replSet", "rsX", "--logappend"]);
    assert.equal(r.code, 0, output(r));

    const host = `localhost:${port}`;
    const topology = Topology.parse({
      global: { security: { auth: false } },
      mongod_servers: [{ host: "localhost", port, replica_set: "rsX", data_dir: dbpath }],
    });
    const ctx = (type: string, name: string, params: Record<string, string>) =>
      ({
        op: { id: `test-${type}`, type, target: { type: "replica_set", name, params } },
        plan: { plan_id: "plan-test", cluster_name: "t", topology, deploy_dir: dir },
        stateId: "apply-test",
        executors: new DefaultExecutors(),
        signal: new AbortController().signal,
        progress() {},
        log() {},
      }) as unknown as OperationContext;
    const said = new RegExp(
      `member ${host} reports replica set rs0, but the plan expects rsX: the data in ${dbpath} belongs to replica set rs0.*Deploy with replica_set: rs0.*remove the data \\(\`rm -rf ${dbpath}\`\\)`,
    );
    const fails = async (op: Operation, c: OperationContext) => {
      assert.equal(await op.isDone(c), false);
      await assert.rejects(op.run(c), (e: Error) => (assert.match(e.message, said), true));
    };

    const config = { _id: "rsX", members: [{ _id: 0, host }] };
    await fails(initReplicaSet, ctx("init_replica_set", "rsX", { config: JSON.stringify(config) }));
    await fails(
      waitForPrimary,
      ctx("wait_for_primary", "rsX", { members: JSON.stringify([host]), timeout_ms: "60000" }),
    );
    await fails(
      verifyHealth,
      ctx("verify_health", "t", {
        processes: JSON.stringify([
          {
            id: `mongod-localhost-${port}`,
            host: "localhost",
            port,
            role: "mongod",
            replica_set: "rsX",
          },
        ]),
        shards: "[]",
        timeout_ms: "60000",
      }),
    );
    // `cluster display` (the live probe) does not show it as a member of rsX in any state of rsX.
    const [shown] = await probeProcesses(
      clusterAccess("t", topology),
      [{
        id: `mongod-localhost-${port}`,
        role: "mongod",
        host: "localhost",
        port,
        replica_set: "rsX",
        config: path.join(dbpath, "mongod.conf"),
        pid_file: path.join(dbpath, "mongod.pid"),
      }],
      new Map(),
    );
    assert.equal(shown.state, "REMOVED");
    assert.equal(shown.healthy, false);
    assert.match(shown.reason ?? "", /reports replica set rs0, not rsX/);
    // Asked for its own set, the same member is no foreign one (it is REMOVED, not done).
    assert.equal(
      await initReplicaSet.isDone(
        ctx("init_replica_set", "rs0", {
          config: JSON.stringify({ _id: "rs0", members: [{ _id: 0, host }] }),
        }),
      ),
      false,
    );
    await stopMongod(dir, port);
  });
});
