/**
 * `global.default_write_concern`: deploy sets the cluster-wide default write concern as a
 * reviewed operation (on a replica set's primary; through mongos before the shards are added,
 * so that a shard with an arbiter joins on 5.1+); reconfigure changes it and refuses to unset
 * it; values that would never be acknowledged are refused. Checked through the real driver.
 */
import assert from "node:assert/strict";
import { deployArgs, freePorts, tempHome, testMirror, writeTopology } from "./helpers.ts";
import * as path from "node:path";
import { clusterDir, withClient } from "./apply_helpers.ts";
import { installedMongod, memberPid, ok } from "./lifecycle_helpers.ts";
import { runBin, waitFor } from "./sim_helpers.ts";
import { pidAlive } from "../lib/executor/local.ts";
import { installFixture } from "./fixture.ts";
import type { Document } from "mongodb";

installFixture();

/** getDefaultRWConcern through `port` (a primary or a mongos), as the cluster's admin. */
function defaults(home: string, cluster: string, port: number): Promise<Document> {
  return withClient(
    `mongodb://localhost:${port}/?directConnection=true`,
    (c) => c.db("admin").command({ getDefaultRWConcern: 1 }),
    { home, cluster },
  );
}

Deno.test("a replica set deployed with global.default_write_concern has it set cluster-wide (no {w: 1} warning for its arbiter); reconfigure changes it, refuses to unset it; a w no set can acknowledge is refused", async () => {
  const home = await tempHome();
  const [p0, p1, arb] = freePorts(3);
  const topology = (concern: string) =>
    `${concern ? `global:\n${concern}` : ""}mongod_servers:\n` +
    `  - { host: localhost, port: ${p0}, replica_set: rs0, priority: 2 }\n` +
    `  - { host: localhost, port: ${p1}, replica_set: rs0 }\n` +
    `  - { host: localhost, port: ${arb}, replica_set: rs0, arbiter_only: true }\n`;
  const mirror = await testMirror();

  const tooMany = await writeTopology(
    home,
    "w3.yaml",
    topology("  default_write_concern: { w: 3 }\n"),
  );
  const refused = await ok(home, deployArgs("dw", tooMany, mirror, ["--plan-only"]), 1);
  assert.match(
    refused.stdout + refused.stderr,
    /w3\.yaml:2:\d+: error: global\.default_write_concern\.w: 3 needs 3 data-bearing members to acknowledge each write, and rs0 would have 2/,
  );

  const file = await writeTopology(
    home,
    "dw.yaml",
    topology("  default_write_concern: { w: majority }\n"),
  );
  const deployed = await ok(home, deployArgs("dw", file, mirror, ["--auto-approve"]));
  assert.match(
    deployed.stdout,
    /Set the default write concern to \{w: "majority"\} on replica set rs0/,
  );
  assert.doesNotMatch(deployed.stdout, /implicit default write concern is \{w: 1\}/);
  const set = await defaults(home, "dw", p0);
  assert.deepEqual([set.defaultWriteConcern?.w, set.defaultWriteConcernSource], [
    "majority",
    "global",
  ]);

  // Changed by a reconfigure, which records it.
  const changed = await writeTopology(
    home,
    "dw2.yaml",
    topology("  default_write_concern: { w: 2, j: true, wtimeout: 5s }\n"),
  );
  const reconfigured = await ok(home, ["cluster", "reconfigure", "dw", changed, "--auto-approve"]);
  // The review names the value it replaces.
  assert.match(
    reconfigured.stdout,
    /Set the default write concern to \{w: 2, j: true, wtimeout: 5000\} on replica set rs0 \(setDefaultRWConcern\) \(recorded: \{w: "majority"\}\)/,
  );
  const now = await defaults(home, "dw", p0);
  assert.deepEqual(
    [now.defaultWriteConcern?.w, now.defaultWriteConcern?.j, now.defaultWriteConcern?.wtimeout],
    [2, true, 5000],
  );
  // A rollback cannot take it back (MongoDB keeps no earlier one); its refusal says so.
  const undo = await ok(home, ["state", "rollback", "dw", "--checkpoint", "start"], 1);
  assert.match(
    undo.stderr,
    /\(reconfigure\) cannot be rolled back: .*set the cluster-wide default write concern/,
  );
  const shown = await ok(home, ["cluster", "show-config", "dw"]);
  assert.match(shown.stdout, /default_write_concern:[\s\S]*w: 2/);
  // A scale-in that would leave rs0 one data-bearing member, fewer than w: 2, is refused.
  const smaller = await ok(
    home,
    ["cluster", "scale-in", "dw", "-N", `localhost:${p1}`, "--plan-only"],
    1,
  );
  assert.match(
    smaller.stdout + smaller.stderr,
    /w: 2 needs 2 data-bearing members to acknowledge each write, and rs0 would have 1/,
  );
  // The same again: nothing to do.
  const again = await ok(home, ["cluster", "reconfigure", "dw", changed, "--auto-approve"]);
  assert.match(again.stdout, /No changes/);

  // MongoDB cannot unset it: leaving it out is refused, and nothing changes.
  const without = await writeTopology(home, "dw3.yaml", topology(""));
  const unset = await ok(home, ["cluster", "reconfigure", "dw", without, "--auto-approve"], 1);
  assert.match(
    unset.stderr,
    /dw3\.yaml leaves out global\.default_write_concern, which cluster dw has set to \{w: 2, j: true, wtimeout: 5000\} \(setDefaultRWConcern\): MongoDB keeps .* can change it but not unset it/,
  );
  assert.doesNotMatch(unset.stderr, /differs from cluster dw in more than/);
  assert.equal((await defaults(home, "dw", p0)).defaultWriteConcern?.w, 2);

  // The display shows it, and says so when it is changed outside mup.
  const shown2 = JSON.parse((await ok(home, ["cluster", "display", "dw", "--json"])).stdout);
  assert.deepEqual(
    [shown2.default_write_concern?.w, shown2.default_write_concern?.source],
    [2, "global"],
  );
  assert.equal(shown2.recorded_default_write_concern, undefined);
  await withClient(
    `mongodb://localhost:${p0}/?directConnection=true`,
    (c) => c.db("admin").command({ setDefaultRWConcern: 1, defaultWriteConcern: { w: 1 } }),
    { home, cluster: "dw" },
  );
  // --json gives the recorded one as the server's document (wtimeout in ms), as the live one.
  const driftedJson = JSON.parse((await ok(home, ["cluster", "display", "dw", "--json"])).stdout);
  assert.deepEqual(driftedJson.recorded_default_write_concern, { w: 2, j: true, wtimeout: 5000 });
  const drifted = await ok(home, ["cluster", "display", "dw"]);
  assert.match(
    drifted.stdout,
    /Default write concern: \{w: 1\} \(cluster-wide\); recorded \{w: 2, j: true, wtimeout: 5000\}: changed outside mup since/,
  );
  // A reconfigure of the recorded topology sets it back.
  const back = await ok(home, ["cluster", "reconfigure", "dw", changed, "--auto-approve"]);
  assert.match(back.stdout, /\(set back: changed outside mup to \{w: 1\}\)/);
  assert.equal((await defaults(home, "dw", p0)).defaultWriteConcern?.w, 2);
  await ok(home, ["cluster", "destroy", "dw", "--auto-approve"]);
});

Deno.test("a sharded cluster deployed with global.default_write_concern sets it through mongos before adding a shard with an arbiter, which MongoDB 5.1+ would refuse without one", async () => {
  const home = await tempHome();
  const [cfg, sh, shArb, router] = freePorts(4);
  const file = await writeTopology(
    home,
    "sh.yaml",
    `global:\n  default_write_concern: { w: majority }\n` +
      `config_servers:\n  - { host: localhost, port: ${cfg}, replica_set: cfg }\n` +
      `mongos_servers:\n  - { host: localhost, port: ${router} }\n` +
      `mongod_servers:\n  - { host: localhost, port: ${sh}, replica_set: shard1 }\n` +
      `  - { host: localhost, port: ${shArb}, replica_set: shard1, arbiter_only: true }\n`,
  );
  const out = await ok(home, deployArgs("dws", file, await testMirror(), ["--auto-approve"]));
  assert.match(out.stdout, /Set the default write concern to \{w: "majority"\} through mongos/);
  const d = await defaults(home, "dws", router);
  assert.deepEqual([d.defaultWriteConcern?.w, d.defaultWriteConcernSource], [
    "majority",
    "global",
  ]);
  const shards = await withClient(
    `mongodb://localhost:${router}/`,
    (c) => c.db("admin").command({ listShards: 1 }),
    { home, cluster: "dws" },
  );
  assert.deepEqual(shards.shards.map((s: Document) => s._id), ["shard1"]);
  await ok(home, ["cluster", "destroy", "dws", "--auto-approve"]);
});

Deno.test("a default write concern a majority does not acknowledge in time (a member down) fails the reconfigure saying so, and is not recorded; with the member started again by hand, plan resume records it; started by mup (which replaces the apply), the reconfigure run again does", async () => {
  const home = await tempHome();
  const [p0, p1, arb] = freePorts(3);
  const topology = (w: string) =>
    `global:\n  default_write_concern: { w: ${w} }\nmongod_servers:\n` +
    `  - { host: localhost, port: ${p0}, replica_set: rs0, priority: 2 }\n` +
    `  - { host: localhost, port: ${p1}, replica_set: rs0 }\n` +
    `  - { host: localhost, port: ${arb}, replica_set: rs0, arbiter_only: true }\n`;
  const mirror = await testMirror();
  await ok(
    home,
    deployArgs("dm", await writeTopology(home, "dm.yaml", topology("1")), mirror, [
      "--auto-approve",
    ]),
  );
  // The secondary stopped outside mup: the primary keeps its votes (its own and the arbiter's),
  // but a majority write needs both data-bearing members.
  const deployDir = path.join(clusterDir(home, "dm"), "deploy");
  const pid = await memberPid(home, "dm", p1);
  Deno.kill(pid, "SIGTERM");
  await waitFor(() => Promise.resolve(!pidAlive(pid)), 30_000);
  const two = await writeTopology(home, "dm1.yaml", topology("2"));
  const unacknowledged = await ok(
    home,
    ["cluster", "reconfigure", "dm", two, "--auto-approve", "--wait-timeout", "2s"],
    1,
  );
  assert.match(unacknowledged.stdout + unacknowledged.stderr, /did not acknowledge it within 2s/);
  // Set on the primary, not recorded: the display says whose it is (tester73).
  const shownNow = await ok(home, ["cluster", "display", "dm"], 1);
  assert.match(
    shownNow.stdout,
    /Default write concern: \{w: 2\} \(cluster-wide\); recorded \{w: 1\}: the reconfigure that did not finish \(apply \S+\) may have set it/,
  );
  // Started again by hand (its own configuration file): the resume sets it, waits, records it.
  const conf = path.join(deployDir, "conf", `mongod-${p1}`, "mongod.conf");
  const started = await runBin(await installedMongod(deployDir), ["-f", conf]);
  assert.equal(started.code, 0, started.stdout + started.stderr);
  await ok(home, ["plan", "resume", "dm", "--auto-approve"]);
  assert.equal((await defaults(home, "dm", p0)).defaultWriteConcern?.w, 2);
  assert.match((await ok(home, ["cluster", "show-config", "dm"])).stdout, /w: 2/);

  // Stopped by mup this time.
  await ok(home, ["cluster", "stop", "dm", "-N", `localhost:${p1}`, "--auto-approve"]);
  const majority = await writeTopology(home, "dm2.yaml", topology("majority"));
  const failed = await ok(
    home,
    ["cluster", "reconfigure", "dm", majority, "--auto-approve", "--wait-timeout", "2s"],
    1,
  );
  assert.match(
    failed.stdout + failed.stderr,
    /set there, but a majority of the members did not acknowledge it within 2s \(members down\?\)[\s\S]*`mup cluster start dm` starts them; then run the reconfigure again: it sets it again and waits \(members that come back otherwise: `mup plan resume dm` does\)/,
  );
  // Not recorded: the metadata still says {w: 2}.
  const shown = await ok(home, ["cluster", "show-config", "dm"]);
  assert.match(shown.stdout, /default_write_concern:\s*\n\s*w: 2/);
  // Started by mup, which replaces the failed apply: the reconfigure is run again.
  await ok(home, ["cluster", "start", "dm", "-N", `localhost:${p1}`, "--auto-approve"]);
  await ok(home, ["cluster", "reconfigure", "dm", majority, "--auto-approve"]);
  const now = await defaults(home, "dm", p0);
  assert.equal(now.defaultWriteConcern?.w, "majority");
  assert.match((await ok(home, ["cluster", "show-config", "dm"])).stdout, /w: majority/);
  await ok(home, ["cluster", "destroy", "dm", "--auto-approve"]);
});
