/**
 * The step_down operation against a real replica set (simulator processes, the official driver):
 * a primary that is only momentarily not primary (it lost sight of a majority; no member is
 * primary) is not taken for stepped down, since it may well be elected again; the operation
 * waits for the election and then steps down whichever way it went.
 */
import assert from "node:assert/strict";
import { freePorts } from "./helpers.ts";
import { admin, pidOf, simBin, startReplSet, waitFor, withDir } from "./sim_helpers.ts";
import { opContext } from "./op_context.ts";
import { installFixture } from "./fixture.ts";
import { stepDown } from "../lib/ops/step_down.ts";
import { Topology } from "../lib/topology/schema.ts";

installFixture();

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
    assert.equal(await stepDown.isDone(ctx), false, "the primary is not stepped down yet");

    const frozen = others.map((p) => pidOf(dir, p));
    try {
      for (const pid of frozen) Deno.kill(pid, "SIGSTOP");
      // With both secondaries silent the primary relinquishes: no member is primary.
      await waitFor(
        async () => (await admin(target, { hello: 1 })).isWritablePrimary === false || undefined,
        30_000,
      );
      assert.equal(await stepDown.isDone(ctx), false, "not primary for the moment is not done");
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
    assert.equal(await stepDown.isDone(ctx), true);
  });
});
