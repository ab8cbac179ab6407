/**
 * MongoDB 5.0+ refuses a reconfig that changes a replica set's implicit default write concern
 * while no cluster-wide one is set: scale-out (an arbiter joining a primary and a secondary) and
 * scale-in (the arbiter of a primary-secondary-arbiter set leaving) refuse such a plan up front,
 * naming setDefaultRWConcern, and go ahead once one is set. Checked through the real driver.
 */
import assert from "node:assert/strict";
import {
  deployArgs,
  freePorts,
  mup,
  output,
  spawnMup,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { waitFor } from "./sim_helpers.ts";
import { withClient } from "./apply_helpers.ts";
import { deploy, killMember, ok } from "./lifecycle_helpers.ts";
import { installFixture } from "./fixture.ts";
import type { Document } from "mongodb";

installFixture();

/** replSetGetConfig's members (host and arbiterOnly) through `port`, as the cluster's admin. */
async function members(home: string, cluster: string, port: number): Promise<string[]> {
  const config = await withClient(
    `mongodb://localhost:${port}/?directConnection=true`,
    async (c) => (await c.db("admin").command({ replSetGetConfig: 1 })).config as Document,
    { home, cluster },
  );
  return (config.members as Document[]).map((m) => `${m.host}${m.arbiterOnly ? " (arbiter)" : ""}`)
    .sort();
}

/** replSetGetStatus's votingMembersCount through `port` (members that vote: not newlyAdded). */
function votingMembers(home: string, cluster: string, port: number): Promise<number> {
  return withClient(
    `mongodb://localhost:${port}/?directConnection=true`,
    async (c) => (await c.db("admin").command({ replSetGetStatus: 1 })).votingMembersCount,
    { home, cluster },
  );
}

/** setDefaultRWConcern on the set's primary, as the cluster's admin. */
function setDefault(home: string, cluster: string, ports: number[], w: string | number) {
  return withClient(
    `mongodb://${ports.map((p) => `localhost:${p}`).join(",")}/?replicaSet=rs0`,
    (c) => c.db("admin").command({ setDefaultRWConcern: 1, defaultWriteConcern: { w } }),
    { home, cluster },
  );
}

/**
 * Removes the member on port `gone` from the set's configuration as a DBA would (rs.remove),
 * through the primary among `ports`; tried again while the config before it is not yet
 * committed (308 CurrentConfigNotCommittedYet).
 */
async function removeByHand(home: string, cluster: string, ports: number[], gone: number) {
  const uri = `mongodb://${ports.map((p) => `localhost:${p}`).join(",")}/?replicaSet=rs0`;
  await waitFor(() =>
    withClient(uri, async (c) => {
      const { config } = await c.db("admin").command({ replSetGetConfig: 1 });
      config.members = config.members.filter((m: Document) => m.host !== `localhost:${gone}`);
      config.version += 1;
      return await c.db("admin").command({ replSetReconfig: config }).then(
        () => true,
        (e: { code?: number }) => {
          if (e.code === 308) return undefined;
          throw e;
        },
      );
    }, { home, cluster }), 30_000);
}

const REFUSAL =
  /implicit default write concern from \{w: "majority"\} to \{w: 1\}[\s\S]*setDefaultRWConcern/;

Deno.test("scale-out of an arbiter that makes a set's implicit write concern {w: 1}, and scale-in of the arbiter that makes it majority again, are refused until a cluster-wide default write concern is set, then go ahead", async () => {
  const home = await tempHome();
  const [p0, p1, arb, q0, q1, qArb] = freePorts(6);

  // A primary and a secondary: the arbiter joining changes the default to {w: 1}.
  await deploy(
    home,
    "ps",
    `mongod_servers:\n  - { host: localhost, port: ${p0}, replica_set: rs0, priority: 2 }\n` +
      `  - { host: localhost, port: ${p1}, replica_set: rs0 }\n`,
  );
  const grown = await writeTopology(
    home,
    "psa.yaml",
    `mongod_servers:\n  - { host: localhost, port: ${p0}, replica_set: rs0, priority: 2 }\n` +
      `  - { host: localhost, port: ${p1}, replica_set: rs0 }\n` +
      `  - { host: localhost, port: ${arb}, replica_set: rs0, arbiter_only: true }\n`,
  );
  const out = await ok(home, ["cluster", "scale-out", "ps", grown, "--auto-approve"], 1);
  assert.match(out.stdout + out.stderr, REFUSAL);
  assert.match(out.stdout + out.stderr, new RegExp(`adding arbiter localhost:${arb}`));
  assert.deepEqual(await members(home, "ps", p0), [`localhost:${p0}`, `localhost:${p1}`].sort());
  await setDefault(home, "ps", [p0, p1], 1);
  await ok(home, ["cluster", "scale-out", "ps", grown, "--auto-approve"]);
  assert.deepEqual(
    await members(home, "ps", p0),
    [`localhost:${arb} (arbiter)`, `localhost:${p0}`, `localhost:${p1}`].sort(),
  );

  // A primary-secondary-arbiter set from the start (replSetInitiate is not a reconfig): its
  // plan says its default is {w: 1}; its arbiter leaving makes the default majority again.
  const psa =
    `mongod_servers:\n  - { host: localhost, port: ${q0}, replica_set: rs0, priority: 2 }\n` +
    `  - { host: localhost, port: ${q1}, replica_set: rs0 }\n` +
    `  - { host: localhost, port: ${qArb}, replica_set: rs0, arbiter_only: true }\n`;
  const planned = await ok(
    home,
    deployArgs("psa", await writeTopology(home, "psa.yaml", psa), await testMirror(), [
      "--plan-only",
    ]),
  );
  assert.match(
    planned.stdout,
    new RegExp(
      `rs0: with its arbiter localhost:${qArb}, the set's implicit default write concern is \\{w: 1\\}`,
    ),
  );
  await deploy(home, "psa", psa);
  const args = ["cluster", "scale-in", "psa", "-N", `localhost:${qArb}`, "--auto-approve"];
  const refused = await ok(home, args, 1);
  assert.match(
    refused.stdout + refused.stderr,
    /removing arbiter localhost:\d+ changes the set's implicit default write concern from \{w: 1\} to \{w: "majority"\}/,
  );
  assert.equal((await members(home, "psa", q0)).length, 3);
  await setDefault(home, "psa", [q0, q1], "majority");
  await ok(home, args);
  assert.deepEqual(await members(home, "psa", q0), [`localhost:${q0}`, `localhost:${q1}`].sort());
  for (const c of ["ps", "psa"]) await ok(home, ["cluster", "destroy", c, "--auto-approve"]);
});

Deno.test("a shard whose implicit default write concern is {w: 1}: a first deploy is refused naming the way round; a scale-out adding one is refused until a default is set through mongos, then adds it", async () => {
  const home = await tempHome();
  const [cfg, sh1, router, sh2, sh2Arb, sh1Arb] = freePorts(6);
  const base = `config_servers:\n  - { host: localhost, port: ${cfg}, replica_set: cfg }\n` +
    `mongos_servers:\n  - { host: localhost, port: ${router} }\n` +
    `mongod_servers:\n  - { host: localhost, port: ${sh1}, replica_set: shard1 }\n`;
  const withShard2 = base +
    `  - { host: localhost, port: ${sh2}, replica_set: shard2 }\n` +
    `  - { host: localhost, port: ${sh2Arb}, replica_set: shard2, arbiter_only: true }\n`;
  const first = await writeTopology(home, "first.yaml", withShard2);
  const refused = await ok(home, deployArgs("sh", first, await testMirror(), ["--plan-only"]), 1);
  assert.match(
    refused.stdout + refused.stderr,
    /shard shard2's implicit default write concern is \{w: 1\}[\s\S]*deploy the shard without its arbiter[\s\S]*mup cluster scale-out sh/,
  );
  // The command names the cluster's mongos, as its admin.
  assert.match(
    refused.stdout + refused.stderr,
    new RegExp(
      `its arbiter localhost:${sh2Arb} leaves[\\s\\S]*mongosh 'mongodb://admin@localhost:${router}/`,
    ),
  );
  await deploy(home, "sh", base);
  // A recorded shard's arbiter joining makes its default {w: 1}: MongoDB 5.1+ refuses that
  // reconfig of a shard until the cluster has a default, so the plan does.
  const arbiter1 =
    `  - { host: localhost, port: ${sh1Arb}, replica_set: shard1, arbiter_only: true }\n`;
  const withArb1 = await writeTopology(home, "arb1.yaml", base + arbiter1);
  const arbOut = await ok(home, ["cluster", "scale-out", "sh", withArb1, "--auto-approve"], 1);
  assert.match(
    arbOut.stdout + arbOut.stderr,
    new RegExp(
      `shard1: adding arbiter localhost:${sh1Arb} changes the set's implicit default write ` +
        `concern from \\{w: "majority"\\} to \\{w: 1\\}, and MongoDB 5\\.1\\+ refuses that ` +
        `reconfig of a shard[\\s\\S]*mongosh 'mongodb://admin@localhost:${router}/`,
    ),
  );
  const grown = await writeTopology(home, "grown.yaml", withShard2);
  const out = await ok(home, ["cluster", "scale-out", "sh", grown, "--auto-approve"], 1);
  assert.match(
    out.stdout + out.stderr,
    /shard shard2's implicit default[\s\S]*Set one through mongos/,
  );
  const mongos = `mongodb://localhost:${router}/`;
  const shards = () =>
    withClient(
      mongos,
      async (c) =>
        ((await c.db("admin").command({ listShards: 1 })).shards as Document[]).map((s) => s._id),
      { home, cluster: "sh" },
    );
  assert.deepEqual(await shards(), ["shard1"]);
  await withClient(
    mongos,
    (c) =>
      c.db("admin").command({ setDefaultRWConcern: 1, defaultWriteConcern: { w: "majority" } }),
    { home, cluster: "sh" },
  );
  await ok(home, ["cluster", "scale-out", "sh", grown, "--auto-approve"]);
  assert.deepEqual((await shards()).sort(), ["shard1", "shard2"]);
  const both = await writeTopology(home, "both.yaml", withShard2 + arbiter1);
  await ok(home, ["cluster", "scale-out", "sh", both, "--auto-approve"]);
  assert.deepEqual(
    await withClient(
      `mongodb://localhost:${sh1}/?directConnection=true`,
      async (c) =>
        ((await c.db("admin").command({ replSetGetConfig: 1 })).config.members as Document[])
          .map((m) => Boolean(m.arbiterOnly)),
      { home, cluster: "sh" },
    ),
    [false, true],
  );
  await ok(home, ["cluster", "destroy", "sh", "--auto-approve"]);
});

Deno.test("cluster reconfigure that takes a member's vote, changing its set's implicit default write concern to {w: 1}, is refused until a cluster-wide default is set, then sets it; a repair that adds back a secondary and an arbiter removed outside mup needs none", async () => {
  const home = await tempHome();
  const ports = freePorts(5);
  const topology = (last: string) =>
    `mongod_servers:\n  - { host: localhost, port: ${ports[0]}, replica_set: rs0, priority: 2 }\n` +
    `  - { host: localhost, port: ${ports[1]}, replica_set: rs0 }\n` +
    `  - { host: localhost, port: ${ports[2]}, replica_set: rs0 }\n` +
    `  - { host: localhost, port: ${ports[3]}, replica_set: rs0${last} }\n` +
    `  - { host: localhost, port: ${ports[4]}, replica_set: rs0, arbiter_only: true }\n`;
  await deploy(home, "rv", topology(""));
  const file = await writeTopology(home, "rv2.yaml", topology(", votes: 0, priority: 0"));
  const args = ["cluster", "reconfigure", "rv", file, "--auto-approve"];
  const refused = await ok(home, args, 1);
  assert.match(
    refused.stdout + refused.stderr,
    new RegExp(
      `rs0: giving localhost:${ports[3]} 0 votes changes the set's implicit default write ` +
        `concern from \\{w: "majority"\\} to \\{w: 1\\}[\\s\\S]*setDefaultRWConcern`,
    ),
  );
  const votes = () =>
    withClient(
      `mongodb://localhost:${ports[0]}/?directConnection=true`,
      async (c) =>
        ((await c.db("admin").command({ replSetGetConfig: 1 })).config.members as Document[])
          .find((m) => m.host === `localhost:${ports[3]}`)?.votes,
      { home, cluster: "rv" },
    );
  assert.equal(await votes(), 1);

  // Outside mup, the arbiter, then a secondary, leave (each keeps the default majority). The
  // repair adds them back secondary first, and the arbiter once the secondary votes: P S S S A
  // stays majority at every step, so no default is needed.
  for (const gone of [ports[4], ports[3]]) await removeByHand(home, "rv", ports, gone);
  // The display says the removed arbiter is out of the set, not that credentials fail there (an
  // arbiter holds no users: tester70).
  const shown = await mup(["cluster", "display", "rv", "--json"], { home });
  const arbiterRow =
    (JSON.parse(shown.stdout).processes as { id: string; state: string; reason?: string }[])
      .find((p) => p.id === `localhost:${ports[4]}`);
  assert.equal(arbiterRow?.state, "REMOVED", shown.stdout);
  assert.match(arbiterRow?.reason ?? "", /not in replica set rs0's configuration/);
  const repair = deployArgs(
    "rv",
    await writeTopology(home, "rv.yaml", topology("")),
    await testMirror(),
    ["--auto-approve"],
  );
  const repaired = await ok(home, repair);
  // Its warnings say how each comes back: the secondary by initial sync, the arbiter by its vote.
  assert.match(
    repaired.stdout + repaired.stderr,
    new RegExp(
      `localhost:${ports[3]} is not in rs0's configuration \\(removed outside mup\\): the ` +
        "repair adds it back \\(replSetReconfig\\), and it catches up from the set",
    ),
  );
  assert.match(
    repaired.stdout + repaired.stderr,
    new RegExp(
      `localhost:${ports[4]} is not in rs0's configuration \\(removed outside mup\\): the ` +
        "repair adds it back \\(replSetReconfig\\) as an arbiter \\(it holds no data",
    ),
  );
  assert.equal((await members(home, "rv", ports[0])).length, 5);
  assert.equal(await votingMembers(home, "rv", ports[0]), 5, "every member votes");

  await setDefault(home, "rv", ports.slice(0, 4), "majority");
  await ok(home, args);
  assert.equal(await votes(), 0);
  await ok(home, ["cluster", "destroy", "rv", "--auto-approve"]);
});

/** A member of rs0 on `port` as a topology line (`extra`: more fields, ", priority: 2"). */
const rs0Line = (port: number, extra = "") =>
  `  - { host: localhost, port: ${port}, replica_set: rs0${extra} }\n`;

/**
 * Deploys cluster `name`, P S S on `ports[0..2]`, and writes its topology grown by `more`
 * (topology lines) as `<name>5.yaml`; returns that file.
 */
async function deployPssGrown(home: string, name: string, ports: number[], more: string) {
  const three = `mongod_servers:\n${rs0Line(ports[0], ", priority: 2")}${rs0Line(ports[1])}${
    rs0Line(ports[2])
  }`;
  await deploy(home, name, three);
  return await writeTopology(home, `${name}5.yaml`, three + more);
}

/** The primary's members_without_vote in `cluster display --json` (undefined: all vote). */
function withoutVote(home: string, cluster: string, primaryPort: number) {
  return mup(["cluster", "display", cluster, "--json"], { home }).then((d) =>
    (JSON.parse(d.stdout) as { processes: { id: string; members_without_vote?: number }[] })
      .processes.find((p) => p.id === `localhost:${primaryPort}`)?.members_without_vote
  );
}

Deno.test("scale-out of a secondary and an arbiter to P S S needs no default: the arbiter joins once the secondary, its initial sync slowed, votes; meanwhile the display counts a member without its vote", async () => {
  const home = await tempHome();
  const ports = freePorts(5);
  // The arbiter listed first: the plan still adds the secondary first.
  const grown = await deployPssGrown(
    home,
    "sa",
    ports,
    rs0Line(ports[4], ", arbiter_only: true") + rs0Line(ports[3]),
  );
  // The new secondary's initial sync waits for a file the test writes: it stays newlyAdded (no
  // vote) until then, while an arbiter joining P S S would make the default {w: 1} and be
  // refused (103).
  const gate = `${home}/clone-gate`;
  const running = mup(["cluster", "scale-out", "sa", grown, "--auto-approve"], {
    home,
    env: { MUP_SIM_FAULT_PORTS: String(ports[3]), MUP_SIM_CLONE_GATE: gate },
  });
  // Meanwhile the display says the primary counts a member without its vote.
  const without = () => withoutVote(home, "sa", ports[0]);
  assert.equal(await waitFor(without, 60_000), 1);
  await Deno.writeTextFile(gate, "");
  const r = await running;
  assert.equal(r.code, 0, output(r));
  assert.equal(await without(), undefined, "every member votes");
  assert.match(
    r.stdout,
    new RegExp(`then arbiter localhost:${ports[4]} once it votes`),
  );
  assert.deepEqual(
    await members(home, "sa", ports[0]),
    [...ports.slice(0, 4).map((p) => `localhost:${p}`), `localhost:${ports[4]} (arbiter)`].sort(),
  );
  assert.equal(await votingMembers(home, "sa", ports[0]), 5);
  await ok(home, ["cluster", "destroy", "sa", "--auto-approve"]);
});

Deno.test("scale-out of a secondary and an arbiter whose secondary dies during its initial sync fails soon after, not at the end of its timeout, naming the member; the resume starts it and adds the arbiter (tester70)", async () => {
  const home = await tempHome();
  const ports = freePorts(5);
  const grown = await deployPssGrown(
    home,
    "sk",
    ports,
    rs0Line(ports[3]) + rs0Line(ports[4], ", arbiter_only: true"),
  );
  const running = mup(
    ["cluster", "scale-out", "sk", grown, "--auto-approve", "--wait-timeout", "10m"],
    { home, env: { MUP_SIM_FAULT_PORTS: String(ports[3]), MUP_SIM_CLONE_GATE: `${home}/gate` } },
  );
  // Once the new secondary is in the set, without its vote (initial sync under way), it dies.
  await waitFor(() => withoutVote(home, "sk", ports[0]), 60_000);
  await killMember(home, "sk", ports[3]);
  const r = await running;
  assert.equal(r.code, 1, output(r));
  assert.match(
    r.stdout + r.stderr,
    new RegExp(
      `localhost:${ports[3]}, added to rs0, has not been reachable from its primary [^ ]+ for ` +
        `15s: its initial sync cannot finish, so arbiter localhost:${ports[4]} was not added`,
    ),
  );
  await ok(home, ["plan", "resume", "sk", "--auto-approve"]);
  assert.equal((await members(home, "sk", ports[0])).length, 5);
  assert.equal(await votingMembers(home, "sk", ports[0]), 5);
  await ok(home, ["cluster", "destroy", "sk", "--auto-approve"]);
});

Deno.test("one Ctrl-C while a scale-out waits for its new secondary's vote stops the waiting at once, paused (the initial sync goes on); the resume waits again and adds the arbiter (tester70)", async () => {
  const home = await tempHome();
  const ports = freePorts(5);
  const grown = await deployPssGrown(
    home,
    "sc",
    ports,
    rs0Line(ports[3]) + rs0Line(ports[4], ", arbiter_only: true"),
  );
  const gate = `${home}/clone-gate`;
  const child = spawnMup(
    ["cluster", "scale-out", "sc", grown, "--auto-approve", "--wait-timeout", "10m"],
    home,
    { MUP_SIM_FAULT_PORTS: String(ports[3]), MUP_SIM_CLONE_GATE: gate },
  );
  try {
    await waitFor(() => withoutVote(home, "sc", ports[0]), 60_000);
    child.kill("SIGINT");
    const r = await child.output();
    const out = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
    // Not the ten minutes of --wait-timeout: the interrupt ends it, resumable.
    assert.equal(r.code, 130, out);
    assert.match(
      out,
      new RegExp(
        `stopped waiting for rs0's new members to vote \\(1 not yet: localhost:${ports[3]} ` +
          // Its state as the primary sees it: STARTUP2, or "not reachable/healthy" before the
          // first heartbeat has reached it (a loaded machine).
          `\\([^)]+\\)\\): their initial ` +
          `syncs go on, and \`mup plan resume sc\` waits again, then adds arbiter ` +
          `localhost:${ports[4]} \\(added so far: localhost:${ports[3]}\\)`,
      ),
    );
    assert.equal((await members(home, "sc", ports[0])).length, 4, "the arbiter is not added");
  } finally {
    await Deno.writeTextFile(gate, "");
  }
  await ok(home, ["plan", "resume", "sc", "--auto-approve"]);
  assert.equal((await members(home, "sc", ports[0])).length, 5);
  assert.equal(await votingMembers(home, "sc", ports[0]), 5);
  await ok(home, ["cluster", "destroy", "sc", "--auto-approve"]);
});
