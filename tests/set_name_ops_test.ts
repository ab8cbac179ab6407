/**
 * The operations that check a replica set's effect (init_replica_set, wait_for_primary,
 * verify_health) against a real member (a simulator process, through the official driver) that
 * runs with --replSet rsX on data of set rs0: none of them takes it for done, each fails at once
 * naming the member, the set it reports, the set expected, its data directory and the fix.
 * Also: wait_for_process tells a server that is not running (waiting longer would not help)
 * from one that runs but does not answer (a longer --wait-timeout may).
 */
import assert from "node:assert/strict";
import { freePorts, output } from "./helpers.ts";
import { admin, simBin, startMongod, stopMongod, waitFor, withDir } from "./sim_helpers.ts";
import { opContext } from "./op_context.ts";
import { installFixture, trackChild } from "./fixture.ts";
import * as path from "node:path";
import type { Operation, OperationContext } from "../lib/ops/operation.ts";
import { initReplicaSet } from "../lib/ops/init_replica_set.ts";
import { waitForPrimary } from "../lib/ops/wait_for_primary.ts";
import { verifyHealth } from "../lib/ops/verify_health.ts";
import { waitForProcess } from "../lib/ops/wait_for_process.ts";
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
      opContext(
        { id: `test-${type}`, type, target: { type: "replica_set", name, params } },
        { plan_id: "plan-test", cluster_name: "t", topology, deploy_dir: dir },
      );
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

Deno.test("wait_for_process on a server that is not running names that and does not advise a longer wait; on one that runs slowly it does", async () => {
  await withDir(async (dir) => {
    const [port] = freePorts(1);
    const topology = Topology.parse({
      global: { security: { auth: false } },
      mongod_servers: [{ host: "localhost", port, data_dir: path.join(dir, "d") }],
    });
    const pidFile = path.join(dir, "mongod.pid");
    const ctx = opContext(
      {
        id: "wait-mongod",
        type: "wait_for_process",
        target: {
          type: "process",
          host: "localhost",
          port,
          params: { pid_file: pidFile, timeout_ms: "1000" },
        },
      },
      {
        plan_id: "plan-test",
        operation: "deploy",
        cluster_name: "t",
        version: "7.0.5",
        topology,
        deploy_dir: dir,
      },
    );
    await assert.rejects(waitForProcess.run(ctx), (e: Error) => {
      assert.match(e.message, /its process is not running \(no live PID in .*mongod\.pid\)/);
      assert.match(
        e.message,
        /waiting longer would not help: see its log, then `mup plan resume t`/,
      );
      assert.doesNotMatch(e.message, /--wait-timeout/);
      return true;
    });
    // A process that runs but does not answer: a longer wait may help.
    const slow = trackChild(new Deno.Command("sleep", { args: ["60"] }).spawn());
    await Deno.writeTextFile(pidFile, `${slow.pid}\n`);
    await assert.rejects(waitForProcess.run(ctx), (e: Error) => {
      assert.match(e.message, /its process runs \(PID \d+\) but does not answer/);
      assert.match(e.message, /to wait longer, plan again with --wait-timeout/);
      return true;
    });
    // A start: the resume waits again, or a plan with a longer --wait-timeout.
    (ctx.plan as { operation: string }).operation = "start";
    await assert.rejects(waitForProcess.run(ctx), (e: Error) => {
      assert.match(
        e.message,
        /to wait again, resume it once the server is ready \(`mup plan resume t`\): the wait starts over, or plan again with a longer --wait-timeout \(e\.g\. `mup cluster start t --wait-timeout 2s`/,
      );
      return true;
    });
    // An upgrade has no --wait-timeout: its hint is the resume only.
    (ctx.plan as { operation: string }).operation = "upgrade";
    await assert.rejects(waitForProcess.run(ctx), (e: Error) => {
      assert.match(e.message, /to wait again, resume it once the server is ready/);
      assert.doesNotMatch(e.message, /--wait-timeout/);
      return true;
    });
    // A process that exits while it is waited for ends the wait at once, not at its timeout.
    const long = { ...ctx, op: { ...ctx.op, target: { ...ctx.op.target, timeout_ms: 60_000 } } };
    const dying = trackChild(new Deno.Command("sleep", { args: ["1"] }).spawn());
    await Deno.writeTextFile(pidFile, `${dying.pid}\n`);
    await assert.rejects(waitForProcess.run(long), (e: Error) => {
      // "exited after", not "did not answer within 60s": the wait did not run out.
      assert.match(
        e.message,
        /exited after \d+s of waiting for its answer: its process is not running/,
      );
      return true;
    });
  });
});
