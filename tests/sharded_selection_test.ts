/**
 * Selections of a running sharded cluster (real simulator processes, through the CLI): plans of
 * partial stops warn about what the processes left running lose (a replica set's majority, the
 * config server replica set, every mongos; a stop of the whole cluster, or of one secondary, does
 * not); `cluster display -N` of a shard member still lists the cluster's shards.
 */
import assert from "node:assert/strict";
import { killAll, shardedTopology, tempHome } from "./helpers.ts";
import { deploy, display, ok, stablePorts } from "./lifecycle_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

interface Warning {
  code: string;
  message: string;
}

Deno.test("stop plans warn when a set loses its majority, the config servers or every mongos stop; display -N of a shard member lists the shards", async () => {
  const home = await tempHome();
  const ports = stablePorts(10);
  try {
    await deploy(home, "sw", shardedTopology(ports));
    const shown = await display(home, "sw");
    const shard1 = shown.processes.filter((p) => p.replica_set === "shard1");
    const secondaries = shard1.filter((p) => p.state === "SECONDARY").map((p) => p.id);
    const planned = async (...sel: string[]) => {
      const r = await ok(home, ["cluster", "stop", "sw", ...sel, "--plan-only", "--json"]);
      const out = JSON.parse(r.stdout);
      return (out.plan ?? out).validation.warnings as Warning[];
    };
    const codes = (ws: Warning[]) => ws.map((w) => w.code).sort();

    // Two of shard1's three members: one vote of three left, no majority.
    const two = await planned("-N", secondaries[0], "-N", secondaries[1]);
    assert.deepEqual(codes(two), ["majority_lost"]);
    assert.match(two[0].message, /Replica set shard1 loses its majority: 1 of 3 votes/);
    assert.match(two[0].message, /no primary and is read-only/);
    // The plan review says it too.
    const text = await ok(home, [
      "cluster",
      "stop",
      "sw",
      "-N",
      secondaries[0],
      "-N",
      secondaries[1],
      "--plan-only",
    ]);
    assert.match(text.stdout, /shard1 loses its majority/);

    assert.deepEqual(
      await planned("-N", secondaries[0]),
      [],
      "one secondary: the set keeps its majority",
    );
    const cfg = await planned("-R", "config");
    assert.deepEqual(codes(cfg), ["config_servers_stopped"]);
    assert.match(cfg[0].message, /config server replica set cfg .*metadata becomes unavailable/);
    const mongos = await planned("-R", "mongos");
    assert.deepEqual(codes(mongos), ["mongos_stopped"]);
    assert.match(mongos[0].message, /Stops every mongos/);
    assert.deepEqual(await planned(), [], "the whole cluster stops: nothing is left to warn about");

    // display of one shard member: the cluster's shards, asked through its mongos.
    const member = await ok(home, ["cluster", "display", "sw", "-N", secondaries[0]]);
    assert.match(member.stdout, /Shards \(listShards\): shard1, shard2/);
    const memberJson = JSON.parse(
      (await ok(home, ["cluster", "display", "sw", "-N", secondaries[0], "--json"])).stdout,
    );
    assert.deepEqual(memberJson.shards, ["shard1", "shard2"]);
    assert.deepEqual(memberJson.processes.map((p: { id: string }) => p.id), [secondaries[0]]);

    // The config servers stopped: the mongos answers but cannot list the shards (nor route):
    // not healthy, with the reason; the shards unknown, saying why.
    await ok(home, ["cluster", "stop", "sw", "-R", "config", "--auto-approve"]);
    const noCfg = JSON.parse(
      (await ok(home, ["cluster", "display", "sw", "-R", "mongos", "--json"], 1)).stdout,
    );
    assert.equal(noCfg.healthy, false);
    assert.equal(noCfg.shards, null);
    for (const r of noCfg.processes as { healthy: boolean; reason?: string }[]) {
      assert.equal(r.healthy, false, JSON.stringify(r));
      assert.match(String(r.reason), /answers, but cannot list the shards: /);
    }
  } finally {
    await killAll(home);
  }
});
