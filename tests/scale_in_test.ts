/**
 * `cluster scale-in`: replica set members taken out of a running set — its primary among them,
 * stepped down first — checked through the real driver (replSetGetConfig, a majority write on
 * what stays), the metadata, the removed processes and directories; killed part way and resumed
 * without a second reconfig; --retain-data; refusals.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import {
  deployArgs,
  freePorts,
  output,
  pausedBefore,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { clusterDir, currentState, meta, withClient } from "./apply_helpers.ts";
import {
  display,
  installedMongod,
  killMember,
  killWhen,
  livePids,
  ok,
} from "./lifecycle_helpers.ts";
import { runBin } from "./sim_helpers.ts";
import { installFixture } from "./fixture.ts";
import { alive } from "../scripts/_pids.ts";
import type { Document } from "mongodb";

installFixture();

const exists = (p: string) => Deno.stat(p).then(() => true, () => false);

/** A four-member set, the first with priority 2 (the primary), the last with priority 0. */
const fourMembers = (p: number[]) =>
  `mongod_servers:\n${
    p.map((port, i) =>
      `  - { host: localhost, port: ${port}, replica_set: rs0${
        i === 0 ? ", priority: 2" : i === 3 ? ", priority: 0" : ""
      } }`
    ).join("\n")
  }\n`;

Deno.test("cluster scale-in removes members, the primary stepped down first: one reconfig each (a kill part way resumes without a second), what stays takes majority writes, the metadata and directories follow; --retain-data keeps data; refusals", async () => {
  const home = await tempHome();
  const ports = freePorts(5);
  const mirror = await testMirror();
  const file = await writeTopology(home, "si.yaml", fourMembers(ports.slice(0, 4)));
  await ok(home, deployArgs("si", file, mirror, ["--auto-approve"]));
  const seeds = ports.slice(0, 4).map((p) => `localhost:${p}`).join(",");
  // As the primary holds it (a secondary learns a new config by heartbeat, a moment later).
  const config = (_port: number) =>
    withClient(
      `mongodb://${seeds}/?replicaSet=rs0`,
      async (c) => (await c.db("admin").command({ replSetGetConfig: 1 })).config as Document,
      { home, cluster: "si" },
    );
  const before = await config(ports[1]);

  // The primary (priority 2) goes: stepped down, removed, stopped; killed while removing it.
  const args = ["cluster", "scale-in", "si", "-N", `localhost:${ports[0]}`, "--auto-approve"];
  const plan = await ok(home, [...args.slice(0, -1), "--plan-only"]);
  assert.match(
    plan.stdout,
    new RegExp(
      `Remove localhost:${ports[0]} from replica set rs0; localhost:${ports[0]}, its primary, ` +
        "steps down first",
    ),
  );
  // What stays must be able to elect a primary: not the priority-0 member alone.
  const noPrimary = await ok(home, [
    "cluster",
    "scale-in",
    "si",
    "-N",
    ports.slice(0, 3).map((p) => `localhost:${p}`).join(","),
  ], 1);
  assert.match(noPrimary.stderr, /would stay .* is not a valid cluster:\n.*can become primary/);
  await killWhen(home, "si", args, /^remove-members-rs0$/, "running");
  // Cut off: other commands would act on a set the metadata no longer describes.
  const stop = await ok(home, ["cluster", "stop", "si", "--auto-approve"], 1);
  assert.match(stop.stderr, /scale-in \(apply .*\) interrupted part way/);
  assert.match(stop.stderr, /the same scale-in again replaces it/);
  await ok(home, ["plan", "resume", "si"]);
  const st = await currentState(home, "si");
  assert.equal(st.status, "completed");
  assert.equal(st.operation, "scale-in");
  const after = await config(ports[1]);
  assert.deepEqual(
    (after.members as Document[]).map((m) => m.host).sort(),
    ports.slice(1, 4).map((p) => `localhost:${p}`).sort(),
  );
  assert.equal(after.version, before.version + 1, "one replSetReconfig for one member");
  // What stays elects a primary and takes majority writes.
  await withClient(
    `mongodb://${seeds}/?replicaSet=rs0`,
    (c) => c.db("app").collection("t").insertOne({ x: 1 }, { writeConcern: { w: "majority" } }),
    { home, cluster: "si" },
  );
  const dir = path.join(clusterDir(home, "si"), "deploy");
  assert.equal(await exists(path.join(dir, "data", `mongod-${ports[0]}`)), false, "data removed");
  const recorded = await meta(home, "si") as { processes: { port: number }[] };
  assert.deepEqual(recorded.processes.map((p) => p.port).sort(), ports.slice(1, 4).sort());
  assert.equal((await livePids(home, "si")).length, 3, "the removed member no longer runs");
  assert.ok((await display(home, "si")).healthy);
  const back = await ok(home, ["state", "rollback", "si", "--checkpoint", "phase1-complete"], 1);
  assert.match(back.stderr, /\(scale-in\) cannot be rolled back/);
  // The original topology has a member the cluster no longer has: a scale-out adds it.
  const repair = await ok(home, deployArgs("si", file, mirror, ["--plan-only"]), 1);
  assert.match(
    repair.stderr,
    /add rs0 member .*: made on the running cluster by `mup cluster scale-out si/,
  );

  // By topology file, keeping the data, with one member down beside one that runs: the down
  // one is taken out first (taking the running one first would leave the primary beside a down
  // voter, without a majority).
  await ok(home, ["cluster", "stop", "si", "-N", `localhost:${ports[2]}`, "--auto-approve"]);
  const one = await writeTopology(
    home,
    "si1.yaml",
    `mongod_servers:\n  - { host: localhost, port: ${ports[1]}, replica_set: rs0 }\n`,
  );
  const keeping = await ok(home, [
    "cluster",
    "scale-in",
    "si",
    one,
    "--retain-data",
    "--auto-approve",
  ]);
  assert.match(keeping.stdout, /data kept \(--retain-data\) in 2 directories: /);
  for (const p of [ports[2], ports[3]]) {
    assert.equal(await exists(path.join(dir, "data", `mongod-${p}`)), true, "data kept");
  }
  assert.deepEqual((await config(ports[1])).members.map((m: Document) => m.host), [
    `localhost:${ports[1]}`,
  ]);
  const none = await ok(home, ["cluster", "scale-in", "si", one, "--auto-approve"]);
  assert.match(none.stdout, /No changes\./);

  // Refused: a process the cluster does not have, both ways at once, every member.
  const unknown = await ok(home, ["cluster", "scale-in", "si", "-N", `localhost:${ports[4]}`], 1);
  assert.match(unknown.stderr, /matches no process of this cluster/);
  const both = await ok(
    home,
    ["cluster", "scale-in", "si", one, "-N", `localhost:${ports[1]}`],
    1,
  );
  assert.match(both.stderr, /either with -N or by a topology file/);
  const all = await ok(home, [
    "cluster",
    "scale-in",
    "si",
    "-N",
    `localhost:${ports[1]}`,
    "--auto-approve",
  ], 1);
  assert.match(
    all.stdout + all.stderr,
    /every mongod of cluster si would go: that is `mup cluster destroy si`/,
  );

  // The kept data stays the cluster's record: display names it, and a destroy leaves it in
  // place, says so, and does not call it someone else's.
  const keptDirs = [ports[2], ports[3]].map((p) => path.join(dir, "data", `mongod-${p}`));
  const shown = await display(home, "si") as { retained_data?: { path: string }[] };
  assert.deepEqual(shown.retained_data?.map((r) => r.path).sort(), keptDirs.sort());
  const again = await writeTopology(
    home,
    "si2.yaml",
    `mongod_servers:\n${
      [ports[1], ports[2]].map((p) => `  - { host: localhost, port: ${p}, replica_set: rs0 }`)
        .join("\n")
    }\n`,
  );
  const onKept = await ok(home, ["cluster", "scale-out", "si", again, "--plan-only"], 1);
  assert.match(
    onKept.stdout + onKept.stderr,
    new RegExp(`the data \`cluster scale-in --retain-data\` kept of mongod-localhost-${ports[2]}`),
  );
  const gone = await ok(home, ["cluster", "destroy", "si", "--auto-approve"]);
  assert.match(gone.stdout, /that `cluster scale-in --retain-data` kept/);
  assert.doesNotMatch(gone.stdout + gone.stderr, /not this cluster's/);
  for (const d of keptDirs) assert.equal(await exists(d), true, `${d} kept by destroy`);
  assert.equal(await exists(path.join(dir, "data", `mongod-${ports[1]}`)), false);
  const listed = JSON.parse((await ok(home, ["cluster", "list", "--json"])).stdout);
  const row = listed.find((c: { name: string }) => c.name === "si");
  assert.equal(row?.status, "destroyed, data kept");
  assert.deepEqual(
    row.data_kept.directories.sort(),
    keptDirs.map((d) => `localhost:${d}`).sort(),
  );
  assert.equal(row.data_kept.kept_by, "scale-in");
  // Its users' password and keyfile go to the archive with the records, not away.
  assert.equal(await exists(path.join(row.data_kept.archive, "secrets", "admin.json")), true);
  assert.match(gone.stdout, /keyfile and admin password its users need are kept in the archive/);
});

Deno.test("cluster start after a scale-in cut off once it removed a member: the removed member is left down and named (an error when asked for with -N; still named under 'No changes'), and named when it runs (started by hand); the same scale-in again finishes the removal", async () => {
  const home = await tempHome();
  const ports = freePorts(4);
  const file = await writeTopology(home, "cut.yaml", fourMembers(ports));
  await ok(home, deployArgs("cut", file, await testMirror(), ["--auto-approve"]));
  const gone = `localhost:${ports[3]}`;
  const args = ["cluster", "scale-in", "cut", "-N", gone, "--auto-approve"];
  await killWhen(home, "cut", args, /^remove-members-rs0$/, "completed");
  // Whether or not its stop came before the kill, it is down now.
  const pidFile = path.join(clusterDir(home, "cut"), "deploy", `mongod-${ports[3]}`, "mongod.pid");
  const pid = Number((await Deno.readTextFile(pidFile).catch(() => "0")).trim());
  if (pid && alive(pid)) {
    Deno.kill(pid, "SIGKILL");
    while (alive(pid)) await new Promise((r) => setTimeout(r, 20));
  }
  // Display names the member the unfinished scale-in removed, and its resume, not another
  // scale-in, which that apply refuses (tester26).
  const noted = await ok(home, ["cluster", "display", "cut"], 1);
  assert.match(
    noted.stdout,
    new RegExp(
      `no longer lists \\(removed by an unfinished scale-in, or by hand\\): ${gone} \\(rs0\\); ` +
        "the unfinished scale-in \\(apply apply-\\w+\\) removed them: `mup plan resume cut` " +
        "finishes their removal",
    ),
    noted.stdout,
  );
  assert.ok(!noted.stdout.includes("`mup cluster scale-in cut"), noted.stdout);
  // Running again (by hand), it is REMOVED by that scale-in, not "outside mup" (tester79).
  const confOf = path.join(clusterDir(home, "cut"), "deploy", "conf", `mongod-${ports[3]}`);
  const alone = await runBin(
    await installedMongod(path.join(clusterDir(home, "cut"), "deploy")),
    ["-f", path.join(confOf, "mongod.conf")],
  );
  assert.equal(alone.code, 0, output(alone));
  const removed = (await display(home, "cut", 1)).processes.find((p) => p.id === gone)!;
  assert.equal(removed.state, "REMOVED");
  assert.match(
    removed.reason ?? "",
    /^removed from replica set rs0's configuration by the unfinished scale-in \(apply apply-\w+\); `mup plan resume cut` finishes it$/,
  );
  const again = Number((await Deno.readTextFile(pidFile)).trim());
  Deno.kill(again, "SIGKILL");
  while (alive(again)) await new Promise((r) => setTimeout(r, 20));
  const named = await ok(home, ["cluster", "start", "cut", "-N", gone, "--auto-approve"], 1);
  assert.match(
    named.stdout,
    new RegExp(`mongod-localhost-${ports[3]} is no longer a member of replica set rs0`),
  );
  const started = await ok(home, ["cluster", "start", "cut", "--auto-approve"]);
  assert.match(started.stdout, /so it is not started: it would run outside its set/);
  // Starting nothing, it does not replace the unfinished scale-in (tester109 #3).
  assert.match(
    started.stdout,
    /No changes\.[^]*cluster cut's unfinished scale-in \(apply apply-\w+\) stays its current apply \(a start that starts nothing does not replace it\): `mup plan resume cut` finishes it/,
    started.stdout,
  );
  assert.doesNotMatch(started.stdout, /this plan replaces it/, started.stdout);
  // The advice names that scale-in's resume, which the scale-in guard lets run, not a new
  // scale-in it would refuse (tester110 #5).
  assert.match(
    started.stdout,
    /If the unfinished scale-in \(apply apply-\w+\) removed it, `mup plan resume cut` finishes the removal/,
  );
  assert.ok(!started.stdout.includes("`mup cluster scale-in cut -N"), started.stdout);
  // The repair for a member removed by hand, whole: pasted, it runs.
  assert.match(
    started.stdout,
    /a repair \(`mkdir -p \S+ && mup cluster show-config cut > \S+ && mup cluster deploy cut \S+ --version 7\.0\.\d+ --mirror \S+`\)/,
  );
  assert.equal(alive(pid), false, "the removed member was not started");
  assert.equal(
    (await livePids(home, "cut")).length,
    3,
    "the three members of the set run, the removed one does not",
  );
  // Nothing left to start: "No changes", with the removed member still named, and down.
  const nothing = await ok(home, ["cluster", "start", "cut", "--auto-approve"]);
  // Not "already running": one recorded member is down.
  assert.match(
    nothing.stdout,
    /No changes\. Every other process of cluster cut runs; 1 member its set no longer lists stays down/,
  );
  assert.doesNotMatch(nothing.stdout, /already running/);
  assert.match(nothing.stdout, /so it is not started: it would run outside its set/);
  // Started by hand, it runs outside its set: named as such, not started or stopped.
  const deployDir = path.join(clusterDir(home, "cut"), "deploy");
  const conf = path.join(deployDir, "conf", `mongod-${ports[3]}`, "mongod.conf");
  const byHand = await runBin(await installedMongod(deployDir), ["-f", conf]);
  assert.equal(byHand.code, 0, output(byHand));
  const running = await ok(home, ["cluster", "start", "cut", "--auto-approve"]);
  assert.doesNotMatch(running.stdout, /Started mongod/);
  assert.match(
    running.stdout,
    new RegExp(`mongod-localhost-${ports[3]} runs, but is no longer a member of replica set rs0`),
  );
  assert.ok(running.stdout.includes("`mup plan resume cut` finishes the removal"), running.stdout);
  assert.equal((await livePids(home, "cut")).length, 4, "the start left it running");
  // The start that started nothing left the scale-in the cluster's current apply (tester109 #3):
  // a restart is refused over it, naming what finishes it.
  const restart = await ok(home, ["cluster", "restart", "cut", "--auto-approve"], 1);
  assert.match(
    restart.stdout + restart.stderr,
    /cluster cut's scale-in \(apply apply-\w+\) interrupted part way[^]*`mup plan resume cut` completes it/,
    restart.stdout + restart.stderr,
  );
  await ok(home, args.slice(0));
  const shown = await display(home, "cut");
  assert.ok(shown.healthy, JSON.stringify(shown));
  assert.deepEqual(
    shown.processes.map((p) => p.id).sort(),
    ports.slice(0, 3).map((p) => `localhost:${p}`).sort(),
  );
});

Deno.test("a scale-in of a config server member during which a mongos that stays dies completes (partial, the mongos named in a notice); cluster start -N then starts that mongos on its rewritten configuration", () =>
  mongosDieDuringScaleIn(1));

Deno.test("a scale-in of a config server member during which every mongos dies completes too (partial, no mongos routing, both named); cluster start -N then starts them", () =>
  mongosDieDuringScaleIn(2));

/**
 * A scale-in of a config server member during which mongos that stay die (killed just before
 * its health check, `gone` of the two): it completes, partial, naming them; their start then
 * works on their rewritten configurations.
 */
async function mongosDieDuringScaleIn(gone: 1 | 2) {
  const home = await tempHome();
  const p = freePorts(5);
  const dies = pausedBefore(home, "verify-health", 1, false);
  const file = await writeTopology(
    home,
    "sb.yaml",
    `config_servers:
  - { host: localhost, port: ${p[0]}, replica_set: cfg }
  - { host: localhost, port: ${p[1]}, replica_set: cfg }
mongod_servers:
  - { host: localhost, port: ${p[2]}, replica_set: shard1 }
mongos_servers:
  - { host: localhost, port: ${p[3]} }
  - { host: localhost, port: ${p[4]} }
${dies.hooks}`,
  );
  await ok(home, deployArgs("sb", file, await testMirror(), ["--auto-approve"]));
  // Armed now: the deploy's own health check went by.
  await dies.arm();
  const running = ok(home, [
    "cluster",
    "scale-in",
    "sb",
    "-N",
    `localhost:${p[1]}`,
    "--auto-approve",
    // A script reads the same in the final event.
    ...(gone === 2 ? ["--json"] : []),
  ]);
  const dead = gone === 2 ? [p[3], p[4]] : [p[4]];
  await dies.at(async () => {
    for (const port of dead) await killMember(home, "sb", port, "mongos");
  }, running);
  const done = await running;
  const named = dead.map((d) => `localhost:${d}`).join(", ");
  const said = new RegExp(
    `mongos ${named} do(es)? not answer \\(${
      gone === 2 ? "no mongos routes: applications cannot reach the cluster" : "the others route"
    }`,
  );
  if (gone === 2) {
    const last = JSON.parse(done.stdout.trim().split("\n").at(-1)!);
    assert.equal(last.event, "apply_done", done.stdout);
    assert.equal(last.cluster_status, "partial", done.stdout);
    const notice = (last.notices ?? []).find((n: { operation: string }) =>
      n.operation === "verify-health"
    );
    assert.match(notice?.notice ?? "", said, done.stdout);
  } else {
    assert.match(done.stdout, said);
    assert.match(done.stdout, /Scale-in completed successfully!/);
    assert.match(done.stdout, /Status: partial/);
  }
  const recorded = (await meta(home, "sb")) as { processes: { port: number; config: string }[] };
  assert.deepEqual(recorded.processes.map((x) => x.port).sort(), [p[0], p[2], p[3], p[4]].sort());
  const conf = await Deno.readTextFile(recorded.processes.find((x) => x.port === p[4])!.config);
  assert.ok(!conf.includes(`localhost:${p[1]}`), conf);
  // The start the notice names works: their configuration is what the metadata records.
  await ok(home, [
    "cluster",
    "start",
    "sb",
    ...dead.flatMap((d) => ["-N", `localhost:${d}`]),
    "--auto-approve",
  ]);
  assert.ok((await display(home, "sb")).healthy);
}
