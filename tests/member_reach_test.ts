/**
 * A member is back in its set when the set's primary reaches it, not when it calls itself
 * SECONDARY: `cluster start -N` of a member cut off from the others (a partition) fails at its
 * wait, naming what the primary sees, instead of reporting success and recording the cluster as
 * running. Started again without the partition, the same command succeeds.
 */
import assert from "node:assert/strict";
import { killAll, mup, output, replicaSetTopology, tempHome } from "./helpers.ts";
import { deploy, display, ok, stablePorts } from "./lifecycle_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

Deno.test("cluster start -N of a member the primary cannot reach fails at its wait, naming the primary's view; without the partition it succeeds", async () => {
  const home = await tempHome();
  const ports = stablePorts(3);
  const member = `localhost:${ports[2]}`;
  try {
    await deploy(home, "reach", replicaSetTopology(ports));
    await ok(home, ["cluster", "stop", "reach", "-N", member, "--auto-approve"]);
    // The member starts cut off from the other two: it answers mup, and calls itself SECONDARY.
    const cut = await mup(
      ["cluster", "start", "reach", "-N", member, "--auto-approve", "--wait-timeout", "8s"],
      {
        home,
        env: { MUP_SIM_FAULT_PORTS: String(ports[2]), MUP_SIM_PARTITIONED: "1" },
      },
    );
    assert.equal(cut.code, 1, output(cut));
    assert.match(
      cut.stdout + cut.stderr,
      new RegExp(
        `${member} did not become SECONDARY and caught up within 8s \\(last seen: .*; the ` +
          `primary localhost:\\d+ cannot reach it`,
      ),
    );
    assert.doesNotMatch(cut.stdout, /completed successfully/);
    const listed = JSON.parse((await ok(home, ["cluster", "list", "--json"])).stdout);
    assert.notEqual(listed[0].status, "running", JSON.stringify(listed[0]));

    await ok(home, ["cluster", "stop", "reach", "-N", member, "--auto-approve"]);
    const again = await ok(home, ["cluster", "start", "reach", "-N", member, "--auto-approve"]);
    assert.match(again.stdout, /completed successfully/);
    assert.ok((await display(home, "reach")).healthy);
  } finally {
    await killAll(home);
  }
});
