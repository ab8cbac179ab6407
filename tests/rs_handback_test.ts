/**
 * A replica set whose primary has the highest priority, on real simulator processes through the
 * CLI: the rolling restart's plan says the primary comes back to it (priority takeover, a second
 * election) and waits for it as a step of its own; `cluster display` selects by -N whatever name
 * the host is given and names the roles that exist when -R selects none.
 */
import assert from "node:assert/strict";
import { clusterCredentials, killAll, mup, replicaSetTopology, tempHome } from "./helpers.ts";
import { asAdmin } from "./security_helpers.ts";
import { waitFor } from "./sim_helpers.ts";
import { deploy, display, ok, stablePorts } from "./lifecycle_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

Deno.test("rolling restart states and waits for the hand-back to the priority-2 member; display -N/-R select as the rest of mup", async () => {
  const home = await tempHome();
  const ports = stablePorts(3);
  try {
    await deploy(home, "hb", replicaSetTopology(ports));
    const top = `localhost:${ports[0]}`; // priority 2
    assert.equal((await display(home, "hb")).processes.find((p) => p.id === top)?.state, "PRIMARY");

    const plan = await ok(home, ["cluster", "restart", "hb", "--plan-only"]);
    assert.match(
      plan.stdout,
      new RegExp(`${top} has the highest priority \\(2\\).*takes the primary back`),
    );
    const json = JSON.parse(
      (await ok(home, ["cluster", "restart", "hb", "--plan-only", "--json"])).stdout,
    );
    const ops = (json.plan ?? json).phases.flatMap((p: { operations: { id: string }[] }) =>
      p.operations
    );
    assert.equal(ops.at(-3)?.id, "wait-handback-rs0", "the hand-back is the set's last step");

    const restart = await ok(home, ["cluster", "restart", "hb", "--auto-approve"]);
    assert.match(
      restart.stdout,
      new RegExp(`${top} \\(priority 2\\) to take the primary of rs0 back`),
    );
    const after = await display(home, "hb");
    assert.equal(after.processes.find((p) => p.id === top)?.state, "PRIMARY");

    // -N by another name of the same machine selects the process recorded as localhost:P.
    const byAddress = JSON.parse(
      (await ok(home, ["cluster", "display", "hb", "-N", `127.0.0.1:${ports[1]}`, "--json"]))
        .stdout,
    );
    assert.deepEqual(byAddress.processes.map((p: { id: string }) => p.id), [
      `localhost:${ports[1]}`,
    ]);
    const noRole = await ok(home, ["cluster", "display", "hb", "-R", "config"], 1);
    assert.match(noRole.stderr, /-R config matches no process of this cluster/);
    assert.match(noRole.stderr, /this cluster has mongod \(3\)/);

    // A DBA sets every priority to 1 by hand: the restart follows the set's configuration (no
    // hand-back to wait for, which would time out), and says the records differ.
    const cred = await clusterCredentials(home, "hb");
    await asAdmin(
      cred,
      top,
      async (c) => {
        const { config } = await c.db("admin").command({ replSetGetConfig: 1 });
        for (const m of config.members) m.priority = 1;
        config.version += 1;
        await c.db("admin").command({ replSetReconfig: config });
      },
    );
    const flat = await ok(home, ["cluster", "restart", "hb", "--auto-approve"]);
    assert.match(
      flat.stdout,
      new RegExp(`${top} has priority 1 in rs0's configuration, 2 in mup's records`),
    );
    assert.doesNotMatch(flat.stdout, /take the primary of rs0 back/);
    assert.match(flat.stdout, /Restart completed successfully!/);

    // A saved rolling restart applied after the primary moved to a member it stops as a
    // secondary (a failover before a resume): that member is stepped down first, never
    // stopped as the primary, and the restart finishes.
    const saved = JSON.parse(
      (await ok(home, ["cluster", "restart", "hb", "--plan-only", "--json"])).stdout,
    );
    const savedOps = (saved.plan ?? saved).phases.flatMap((ph: { operations: unknown[] }) =>
      ph.operations
    ) as { id: string; type: string; target: { port?: number } }[];
    const stops = savedOps.filter((o) => o.type === "stop_process").map((o) => o.target.port!);
    const [first] = stops; // secondaries in port order, then the primary
    const admin = (port: number, cmd: Record<string, unknown>) =>
      asAdmin(cred, `localhost:${port}`, (c) => c.db("admin").command(cmd));
    // The first planned secondary stands for election at once (every priority is 1 now, so
    // nothing takes the primary back from it).
    const stateOf = async (port: number) =>
      (JSON.parse((await mup(["cluster", "display", "hb", "--json"], { home })).stdout) as {
        processes: { id: string; state: string }[];
      }).processes.find((p) => p.id === `localhost:${port}`)?.state;
    await waitFor(async () => {
      if ((await stateOf(first)) === "PRIMARY") return true;
      await admin(first, { replSetStepUp: 1 }).catch(() => {});
      return false;
    }, 20_000);
    const moved = await ok(home, ["plan", "apply", saved.plan_id, "--auto-approve"]);
    assert.match(
      moved.stdout,
      new RegExp(`Stop rs0 member localhost:${first}: primary of rs0 when its stop came`),
    );
    assert.match(moved.stdout, /Restart completed successfully!/);
    assert.ok((await display(home, "hb")).healthy);

    const primaryNow = async () =>
      (await display(home, "hb")).processes.find((p) => p.state === "PRIMARY")!.id;
    // Every member's priority 1, but for the primary's: `other`.
    let primary = await primaryNow();
    const setPriorities = (other: number) =>
      asAdmin(cred, primary, async (c) => {
        const { config } = await c.db("admin").command({ replSetGetConfig: 1 });
        for (const m of config.members) m.priority = m.host === primary ? 1 : other;
        config.version += 1;
        await c.db("admin").command({ replSetReconfig: config });
      });
    // A restart saved while the others could be primary, applied after they were given
    // priority 0: its step-down fails naming why and what lets the resume finish it.
    const before = JSON.parse(
      (await ok(home, ["cluster", "restart", "hb", "--plan-only", "--json"])).stdout,
    );
    await setPriorities(0);
    const stuck = await ok(home, ["plan", "apply", before.plan_id, "--auto-approve"], 1);
    assert.match(
      stuck.stdout,
      new RegExp(
        `${primary} is the only member of rs0 that can be primary: .* have priority 0 in the ` +
          "set's configuration, set since this plan was made\\. Give a secondary a priority " +
          "above 0 again \\(replSetReconfig\\), then `mup plan resume hb`",
      ),
    );
    await setPriorities(1);
    await ok(home, ["plan", "resume", "hb"]);
    assert.ok((await display(home, "hb")).healthy);
    primary = await primaryNow(); // the resume stepped it down

    // Every member but the primary given priority 0 by hand: a TLS switch restarts the primary
    // in place, as the set's configuration allows, instead of a step-down no member can take
    // over (which failed every resume: tester40 H1), and says so in its review.
    await setPriorities(0);
    const tls = await ok(home, ["cluster", "tls", "hb", "enable", "--auto-approve"]);
    assert.match(
      tls.stdout,
      new RegExp(
        `${primary} is the only member of rs0 that can be primary \\(the others have priority 0\\)`,
      ),
    );
    assert.doesNotMatch(tls.stdout, /Step down rs0 primary/);
    assert.match(tls.stdout, /completed successfully!/);
    assert.ok((await display(home, "hb")).healthy);
  } finally {
    await killAll(home);
  }
});
