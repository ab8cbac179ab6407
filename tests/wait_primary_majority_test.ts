/**
 * wait_for_primary against a real replica set (simulator processes, the official driver) that
 * has lost a majority of its votes: no primary can be elected however long it waits, so the
 * wait ends within seconds naming the members that do not answer and what gives the set its
 * primary back, instead of at its timeout.
 */
import assert from "node:assert/strict";
import { freePorts } from "./helpers.ts";
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
import { opContext } from "./op_context.ts";
import { installFixture } from "./fixture.ts";
import { waitForPrimary } from "../lib/ops/wait_for_primary.ts";
import { OperationError } from "../lib/ops/operation.ts";
import { pidAlive } from "../lib/executor/local.ts";

installFixture();

Deno.test("wait_for_primary of a set with 2 of its 3 voting members down ends naming them and the start and re-plan that mend it, not at its timeout", async () => {
  await withDir(async (dir) => {
    const ports = freePorts(3);
    await startReplSet(await simBin("7.0.5"), dir, ports);
    const primary = await waitFor(async () => {
      const p = (await admin(ports[0], { hello: 1 })).primary;
      return typeof p === "string" ? p : undefined;
    }, 30_000);
    const others = ports.filter((p) => `localhost:${p}` !== primary);
    for (const p of others) {
      const pid = pidOf(dir, p);
      Deno.kill(pid, "SIGKILL");
      await waitFor(() => Promise.resolve(!pidAlive(pid) || undefined), 10_000);
    }
    const members = ports.map((p) => `localhost:${p}`);
    const op = {
      id: "wait-primary-rs0",
      type: "wait_for_primary",
      target: {
        type: "replica_set",
        name: "rs0",
        // A primary other than the one left, as after a step-down: none can be elected.
        params: { members: JSON.stringify(members), not: primary },
        timeout_ms: 120_000,
      },
    };
    const plan = { plan_id: "plan-test", cluster_name: "t", operation: "restart", phases: [] };
    const err = await waitForPrimary.run(opContext(op, plan)).then(
      () => assert.fail("a primary other than the one left was found"),
      (e) => e as OperationError,
    );
    assert.ok(err instanceof OperationError, String(err));
    assert.match(
      err.message,
      new RegExp(
        `replica set rs0 has no primary and cannot elect one: 2 of its 3 voting members do not answer \\(${
          others.map((p) => `localhost:${p}`).join(", ")
        }\\)`,
      ),
    );
    assert.equal(
      err.options.replan,
      `\`mup cluster start t ${
        others.map((p) => `-N localhost:${p}`).join(" ")
      }\` starts them, and replaces this apply (it cannot be resumed after that): then ` +
        "`mup cluster restart t` plans this restart again",
    );
  });
});

Deno.test("wait_for_primary takes each member's own word: a member cut off from its set (its view: no primary) listed first does not hide the primary the others elected", async () => {
  await withDir(async (dir) => {
    const ports = freePorts(3);
    const bin = await simBin("7.0.5");
    await startReplSet(bin, dir, ports);
    // The third member restarted behind a network partition: it answers clients, and by its
    // own view the set has no primary (it hears no heartbeat).
    await killMember(dir, ports[2]);
    const r = await startMongod(bin, dir, ports[2], ["--replSet", "rs0"], {
      MUP_SIM_PARTITIONED: "1",
    });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const status = await admin(ports[2], { replSetGetStatus: 1 });
    assert.ok(
      !(status.members as { state: number }[]).some((m) => m.state === 1),
      JSON.stringify(status.members),
    );
    const op = {
      id: "wait-primary-rs0",
      type: "wait_for_primary",
      target: {
        type: "replica_set",
        name: "rs0",
        params: {
          members: JSON.stringify([ports[2], ...ports.slice(0, 2)].map((p) => `localhost:${p}`)),
        },
        timeout_ms: 20_000,
      },
    };
    const plan = { plan_id: "plan-test", cluster_name: "t", operation: "restart", phases: [] };
    const out = await waitForPrimary.run(opContext(op, plan));
    assert.equal(out.metadata?.primary, `localhost:${ports[0]}`, out.output);
  });
});
