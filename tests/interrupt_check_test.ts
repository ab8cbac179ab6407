/**
 * One Ctrl-C while a safety check waits for a replica set to settle (a member is down, so the
 * check asks again for up to 30 s): the check gives its outcome at once and the apply ends
 * paused, resumable, with the operation not run — not failed half a minute later.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { killAll, replicaSetTopology, spawnMup, tempHome } from "./helpers.ts";
import { clusterDir, currentState } from "./apply_helpers.ts";
import { deploy, killMember, stablePorts } from "./lifecycle_helpers.ts";
import { deadline, installFixture } from "./fixture.ts";

installFixture();

Deno.test("one Ctrl-C while a restart's safety check waits for its set to settle: the apply is paused, the stop not run", async () => {
  const home = await tempHome();
  const ports = stablePorts(3);
  try {
    await deploy(home, "rs", replicaSetTopology(ports));
    const dir = clusterDir(home, "rs");
    const pidOf = async (port: number) =>
      Number(await Deno.readTextFile(path.join(dir, "deploy", `mongod-${port}`, "mongod.pid")));
    await killMember(home, "rs", ports[2]);
    const target = await pidOf(ports[1]);
    const child = spawnMup(
      ["cluster", "restart", "rs", "-N", `localhost:${ports[1]}`, "--auto-approve"],
      home,
    );
    // Once the stop has begun (its check is asking again), the interrupt.
    const stop = `stop-mongod-localhost-${ports[1]}`;
    const until = Date.now() + deadline(60_000);
    for (;;) {
      // The newest apply's journal says when the stop has begun (its checks run first).
      const journals = await Array.fromAsync(Deno.readDir(path.join(dir, "state")));
      const texts = await Promise.all(
        journals.filter((e) => e.name.endsWith(".journal")).map((e) =>
          Deno.readTextFile(path.join(dir, "state", e.name))
        ),
      );
      const begun = texts.some((t) =>
        t.split("\n").some((l) => l.includes(`"id":"${stop}","status":"running"`))
      );
      if (begun) break;
      if (Date.now() > until) throw new Error("the stop never began");
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill("SIGINT");
    const status = await child.status;
    await child.stdout.cancel().catch(() => {});
    await child.stderr.cancel().catch(() => {});
    assert.notEqual(status.code, 0);
    const state = await currentState(home, "rs");
    assert.equal(state.status, "paused", JSON.stringify(state.operation_states[stop]));
    assert.notEqual(state.operation_states[stop].status, "completed");
    // The member it would have stopped still runs (a signal to a gone pid throws).
    Deno.kill(target, "SIGCONT");
  } finally {
    await killAll(home);
  }
});
