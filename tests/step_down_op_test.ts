/**
 * The step_down operation against a real replica set (simulator processes, the official driver):
 * a primary that is only momentarily not primary (it lost sight of a majority; no member is
 * primary) is not taken for stepped down, since it may well be elected again; the operation
 * waits for the election and then steps down whichever way it went. A member of higher priority
 * that another member replaced is frozen, so it cannot take the primary back before its stop;
 * a stop planned after a step-down steps the member down again if it is primary once more.
 */
import assert from "node:assert/strict";
import { freePorts } from "./helpers.ts";
import { admin, pidOf, simBin, startReplSet, waitFor, withDir } from "./sim_helpers.ts";
import { opContext } from "./op_context.ts";
import { installFixture } from "./fixture.ts";
import { stepDown } from "../lib/ops/step_down.ts";
import { stopProcess } from "../lib/ops/stop_process.ts";
import { pidAlive } from "../lib/executor/local.ts";
import { Topology } from "../lib/topology/schema.ts";

installFixture();

/** A 3-member set whose first member (priority 2) takes the primary back 4 s after it lost it. */
async function prioritySet(dir: string) {
  const ports = freePorts(3);
  await startReplSet(await simBin("7.0.5"), dir, ports, { electionTimeoutMillis: 4000 });
  const topology = Topology.parse({
    global: { security: { auth: false } },
    mongod_servers: ports.map((port) => ({ host: "localhost", port, replica_set: "rs0" })),
  });
  const plan = { plan_id: "plan-test", cluster_name: "t", topology, deploy_dir: dir };
  const target = (type: string, params: Record<string, string>) => ({
    id: `${type}-test`,
    type,
    target: {
      type: "process",
      name: `mongod-localhost-${ports[0]}`,
      host: "localhost",
      port: ports[0],
      params,
      step_down_secs: 60,
      catch_up_secs: 10,
    },
  });
  /** The member hello says is primary, asked of `port`. */
  const primaryOf = async (port: number) => (await admin(port, { hello: 1 })).primary;
  /** Steps the first member down for `secs` only, and waits until another member is primary. */
  const briefStepDown = async (secs: number) => {
    await admin(ports[0], { replSetStepDown: secs, secondaryCatchUpPeriodSecs: 1 }).catch(
      () => {}, // Older servers close the connection.
    );
    return await waitFor(async () => {
      const p = await primaryOf(ports[1]);
      return typeof p === "string" && p !== `localhost:${ports[0]}` ? p : undefined;
    }, 30_000);
  };
  return { ports, plan, target, primaryOf, briefStepDown };
}

Deno.test("step_down: a member of higher priority that another member replaced is frozen, so it does not take the primary back before its stop (priority takeover)", async () => {
  await withDir(async (dir) => {
    const { ports, plan, target, primaryOf, briefStepDown } = await prioritySet(dir);
    const first = `localhost:${ports[0]}`;
    // Control: stepped down for 2 s only, the priority-2 member takes the primary back.
    await briefStepDown(2);
    const t0 = Date.now();
    await waitFor(async () => (await primaryOf(ports[1])) === first || undefined, 60_000);
    const takeover = Date.now() - t0;
    // Again; this time the operation runs while another member is primary.
    await briefStepDown(2);
    const out = await stepDown.run(opContext(target("step_down", { replica_set: "rs0" }), plan));
    assert.match(out.output ?? "", /another member is primary.*frozen for 60s/);
    // Watched for twice as long as the takeover took above, and some: it stays secondary.
    for (const end = Date.now() + 2 * takeover + 5000; Date.now() < end;) {
      const h = await admin(ports[0], { hello: 1 });
      assert.equal(h.isWritablePrimary, false, `${first} took the primary back (${takeover} ms)`);
      await new Promise((r) => setTimeout(r, 250));
    }
  });
});

Deno.test("stop_process with step_down_first: a member that is primary again is stepped down (replSetStepDown), never stopped as the primary", async () => {
  await withDir(async (dir) => {
    const { ports, plan, target, primaryOf } = await prioritySet(dir);
    const first = `localhost:${ports[0]}`;
    assert.equal(await primaryOf(ports[0]), first, "the priority-2 member is primary");
    const op = target("stop_process", {
      pid_file: `${dir}/${ports[0]}/mongod.pid`,
      step_down_first: "rs0",
    });
    const pid = pidOf(dir, ports[0]);
    const out = await stopProcess.run(opContext(op, plan));
    assert.match(
      out.output ?? "",
      /primary of rs0 when its stop came .*stepped down; then stopped pid/,
    );
    // Shown beside the operation's line, not only in the journal.
    assert.match(
      out.notice ?? "",
      /^primary of rs0 when its stop came \(the primary moved since .*stepped down$/,
    );
    assert.equal(pidAlive(pid), false, "the process is gone");
    const log = await Deno.readTextFile(`${dir}/${ports[0]}/log`);
    assert.match(log, /Attempting to step down in response to replSetStepDown command/);
    // Another member is primary, and a secondary's stop with the same parameter just stops it.
    const other = await waitFor(async () => {
      const p = await primaryOf(ports[1]);
      return typeof p === "string" && p !== first ? p : undefined;
    }, 30_000);
    const secondary = ports.slice(1).find((p) => `localhost:${p}` !== other)!;
    const second = await stopProcess.run(opContext(
      {
        ...op,
        target: {
          ...op.target,
          name: `mongod-localhost-${secondary}`,
          port: secondary,
          params: { pid_file: `${dir}/${secondary}/mongod.pid`, step_down_first: "rs0" },
        },
      },
      plan,
    ));
    assert.match(second.output ?? "", /^stopped pid \d+ with shutdown/);
  });
});

Deno.test("step_down: a primary that lost sight of a majority (no member primary) is not done; once the set elects again the operation steps it down, leaving another member primary", async () => {
  await withDir(async (dir) => {
    const ports = freePorts(3);
    await startReplSet(await simBin("7.0.5"), dir, ports);
    const [target, ...others] = ports;
    const topology = Topology.parse({
      global: { security: { auth: false } },
      mongod_servers: ports.map((port) => ({ host: "localhost", port, replica_set: "rs0" })),
    });
    const ctx = opContext(
      {
        id: "step-down-rs0",
        type: "step_down",
        target: {
          type: "process",
          name: `mongod-localhost-${target}`,
          host: "localhost",
          port: target,
          params: { replica_set: "rs0" },
          step_down_secs: 60,
          catch_up_secs: 10,
        },
      },
      { plan_id: "plan-test", cluster_name: "t", topology, deploy_dir: dir },
    );

    const frozen = others.map((p) => pidOf(dir, p));
    try {
      for (const pid of frozen) Deno.kill(pid, "SIGSTOP");
      // With both secondaries silent the primary relinquishes: no member is primary.
      await waitFor(
        async () => (await admin(target, { hello: 1 })).isWritablePrimary === false || undefined,
        30_000,
      );
      const running = stepDown.run(ctx);
      for (const pid of frozen) Deno.kill(pid, "SIGCONT");
      const out = await running;
      assert.ok(out.output, "the operation says what it did");
    } finally {
      for (const pid of frozen) {
        try {
          Deno.kill(pid, "SIGCONT");
        } catch {
          // Already gone.
        }
      }
    }
    // Another member is primary (the target stepped down for 60 s cannot take it back).
    const h = await waitFor(async () => {
      const h = await admin(target, { hello: 1 });
      return typeof h.primary === "string" && h.primary !== `localhost:${target}` ? h : undefined;
    }, 30_000);
    assert.equal(h.isWritablePrimary, false);
  });
});

Deno.test("step_down: with no secondary caught up the server refuses (ExceededTimeLimit) and suggests {force: true}; the operation's error says mup never forces and what to do instead", async () => {
  await withDir(async (dir) => {
    const { ports, plan, target } = await prioritySet(dir);
    const held = [pidOf(dir, ports[1]), pidOf(dir, ports[2])];
    held.forEach((p) => Deno.kill(p, "SIGSTOP"));
    try {
      // A write the held secondaries do not have: none of them is caught up.
      await admin(ports[0], { insert: "c", documents: [{ _id: 1 }], writeConcern: { w: 1 } });
      const op = target("step_down", { replica_set: "rs0" });
      const err = await stepDown.run(
        opContext({ ...op, target: { ...op.target, catch_up_secs: 1 } }, plan),
      ).then(() => undefined, (e: Error) => e);
      assert.ok(err, "the step-down was refused");
      assert.match(err.message, /No electable secondaries caught up/);
      assert.match(err.message, /mup never forces a step-down: a forced one can lose writes/);
      assert.match(err.message, /`mup plan resume t` tries again/);
    } finally {
      held.forEach((p) => pidAlive(p) && Deno.kill(p, "SIGCONT"));
    }
  });
});
