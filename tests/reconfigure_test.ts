/**
 * `cluster reconfigure`: runtime_config changed on a running replica set by a rolling restart,
 * checked through the real driver on every member (getCmdLineOpts), the metadata and the
 * commands that read it; killed part way and resumed; other differences refused.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import {
  deployArgs,
  freePorts,
  killAll,
  mup,
  output,
  replicaSetTopology,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { clusterDir, count, currentState, meta, processLogs, withClient } from "./apply_helpers.ts";
import { display, killMember, killWhen, ok } from "./lifecycle_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

const withSlowMs = (ports: number[], ms: number, extra = "") =>
  `global:\n  runtime_config:\n    operationProfiling: { slowOpThresholdMs: ${ms} }\n` +
  replicaSetTopology(ports, extra);

/** The replica set with slowOpThresholdMs 250 and `more` (a YAML mapping's inside) globally. */
const with250And = (ports: number[], more: string) =>
  `global:\n  runtime_config: { operationProfiling: { slowOpThresholdMs: 250 }, ${more} }\n` +
  replicaSetTopology(ports);

/** operationProfiling.slowOpThresholdMs as each member's getCmdLineOpts reports it. */
async function slowMs(home: string, ports: number[]): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const p of ports) {
    out.push(
      await withClient(`mongodb://localhost:${p}/?directConnection=true`, async (c) => {
        const opts = await c.db("admin").command({ getCmdLineOpts: 1 });
        return opts.parsed?.operationProfiling?.slowOpThresholdMs;
      }, { home, cluster: "rc" }),
    );
  }
  return out;
}

/** Cluster rc: the 3-member set with slowOpThresholdMs 100, deployed from rc.yaml. */
async function deployRc(home: string, ports: number[], mirror: string): Promise<void> {
  const file = await writeTopology(home, "rc.yaml", withSlowMs(ports, 100));
  await ok(home, deployArgs("rc", file, mirror, ["--auto-approve"]));
}

Deno.test("a reconfigure cut off after writing new configuration files, then replaced by a stop: the stop says a start will refuse those files, the start refuses them naming the same reconfigure (no resume reaches it), and that reconfigure finishes it (tester109 #1)", async () => {
  const home = await tempHome();
  try {
    const ports = freePorts(3);
    const mirror = await testMirror();
    await deployRc(home, ports, mirror);
    const next = await writeTopology(home, "rc2.yaml", withSlowMs(ports, 250));
    const args = ["cluster", "reconfigure", "rc", next, "--auto-approve"];
    await killWhen(
      home,
      "rc",
      args,
      new RegExp(`^wait-state-mongod-localhost-${ports[1]}$`),
      "completed",
    );
    const stopped = await ok(home, ["cluster", "stop", "rc", "--auto-approve"]);
    assert.match(
      stopped.stdout,
      /\(reconfigure\) .*the configuration files it wrote stay, and a start after this plan refuses them until the same reconfigure, run again, finishes it/,
      stopped.stdout,
    );
    // display names the reconfigure that starts them, not a start that is refused.
    const shown = await mup(["cluster", "display", "rc"], { home });
    assert.match(
      shown.stdout,
      /stopped by the last apply \(stop, apply-\w+\), which replaced the unfinished reconfigure \(apply apply-\w+\): .*a start is refused until `mup cluster reconfigure rc \S*rc2\.yaml` finishes it/,
      shown.stdout,
    );
    assert.doesNotMatch(shown.stdout, /`mup cluster start rc` starts/, shown.stdout);
    const start = await ok(home, ["cluster", "start", "rc", "--auto-approve"], 1);
    assert.match(
      start.stdout + start.stderr,
      /is the one the unfinished reconfigure \(apply apply-\w+\) wrote, which the metadata does not record yet: .*Finish that reconfigure \(`mup cluster reconfigure rc \S*rc2\.yaml`: a later apply replaced it, so no resume reaches it\), then plan again/,
      start.stdout + start.stderr,
    );
    // Commands that need every process up name that reconfigure too, not the refused start;
    // a repair, which would write the recorded files back over its own, is refused
    // (tester110 #5).
    const finish = /`mup cluster reconfigure rc \S*rc2\.yaml`/;
    const tls = await ok(home, ["cluster", "tls", "rc", "enable", "--auto-approve"], 1);
    assert.match(
      tls.stdout + tls.stderr,
      new RegExp(`is not running: .*\\(run ${finish.source} first\\)`),
    );
    assert.doesNotMatch(tls.stdout + tls.stderr, /mup cluster start rc/, tls.stdout + tls.stderr);
    const upgrade = await ok(home, [
      "cluster",
      "upgrade",
      "rc",
      "--version",
      "8.0",
      "--mirror",
      mirror,
      "--auto-approve",
    ], 1);
    assert.match(
      upgrade.stdout + upgrade.stderr,
      new RegExp(`is not running: .*\\(run ${finish.source} first\\)`),
    );
    const repair = await ok(
      home,
      deployArgs("rc", `${home}/rc.yaml`, mirror, ["--auto-approve"]),
      1,
    );
    assert.match(
      repair.stdout + repair.stderr,
      /has a reconfigure that did not finish \(apply apply-\w+, \w+\), replaced by a later stop, start or restart after it wrote configuration files the metadata does not record: a repair would write the recorded ones back over them/,
      repair.stdout + repair.stderr,
    );
    assert.match(repair.stdout + repair.stderr, new RegExp(`${finish.source} finishes it`));
    // Its topology file moved since: the hint says so rather than naming a file not there.
    await Deno.rename(next, `${next}.moved`);
    const moved = await mup(["cluster", "display", "rc"], { home });
    assert.match(
      moved.stdout,
      /until `mup cluster reconfigure rc <topology: the one planned from \S*rc2\.yaml, no longer there>` finishes it/,
      moved.stdout,
    );
    await Deno.rename(`${next}.moved`, next);
    await ok(home, args);
    assert.deepEqual(await slowMs(home, ports), [250, 250, 250], "every member runs it");
    assert.ok((await display(home, "rc")).healthy);
  } finally {
    await killAll(home);
  }
});

Deno.test("cluster reconfigure changes runtime_config by a rolling restart: every member runs it, the metadata records it, a kill part way resumes without restarting anyone twice; other differences are refused", async () => {
  const home = await tempHome();
  try {
    const ports = freePorts(3);
    const mirror = await testMirror();
    await deployRc(home, ports, mirror);
    assert.deepEqual(await slowMs(home, ports), [100, 100, 100]);

    // cluster deploy of the changed topology names the command that makes the change.
    const next = await writeTopology(home, "rc2.yaml", withSlowMs(ports, 250));
    const refused = await ok(home, deployArgs("rc", next, mirror, ["--plan-only"]), 1);
    assert.match(
      refused.stderr,
      /runtime_config .*slowOpThresholdMs":100.* → .*slowOpThresholdMs":250.*: made on the running cluster by `mup cluster reconfigure rc .*rc2\.yaml`/,
    );

    // Killed once the first secondary runs its new configuration, then resumed.
    const args = ["cluster", "reconfigure", "rc", next, "--auto-approve"];
    await killWhen(
      home,
      "rc",
      args,
      new RegExp(`^wait-state-mongod-localhost-${ports[1]}$`),
      "completed",
    );
    // A restart meanwhile would start members on files the metadata does not describe: refused,
    // naming the reconfigure that wrote them and the resume that finishes it (tester38 L8).
    const restart = await ok(home, ["cluster", "restart", "rc", "--plan-only"], 1);
    assert.match(
      restart.stdout,
      /is the one the unfinished reconfigure \(apply apply-\w+\) wrote, which the metadata does not record yet: .*Finish that reconfigure \(`mup plan resume rc`\), then plan again/,
    );
    const resumed = await ok(home, ["plan", "resume", "rc"]);
    assert.match(resumed.stdout, /Record the new runtime_config/);
    const st = await currentState(home, "rc");
    assert.equal(st.status, "completed");
    assert.equal(st.operation, "reconfigure");
    // Each member started twice in all: the deploy, and one restart (none twice after the kill).
    for (const [name, log] of await processLogs(home, "rc")) {
      assert.equal(count(log, /"id":4615611/), 2, `${name} started twice (deploy, reconfigure)`);
    }
    assert.deepEqual(await slowMs(home, ports), [250, 250, 250], "every member runs it");
    const recorded = (await meta(home, "rc")).topology as {
      global: { runtime_config: unknown };
    };
    assert.deepEqual(recorded.global.runtime_config, {
      operationProfiling: { slowOpThresholdMs: 250 },
    });
    assert.ok((await display(home, "rc")).healthy);
    // Its configuration files cannot be put back by a rollback: a reconfigure goes back.
    const back = await ok(home, ["state", "rollback", "rc", "--checkpoint", "phase2-complete"], 1);
    assert.match(back.stderr, /\(reconfigure\) cannot be rolled back/);
    // What reads the metadata agrees: nothing to repair, nothing to reconfigure, and a restart
    // finds the configuration files mup generates.
    const again = await ok(home, deployArgs("rc", next, mirror, ["--plan-only"]));
    assert.match(again.stdout, /No changes\. The cluster matches the topology\./);
    const same = await ok(home, args);
    assert.match(
      same.stdout,
      /No changes\. Cluster rc already runs this runtime_config and these member options\./,
    );
    await ok(home, ["cluster", "restart", "rc", "-N", `localhost:${ports[2]}`, "--auto-approve"]);

    // Anything but runtime_config and member options is another command's change.
    const other = await writeTopology(
      home,
      "rc3.yaml",
      withSlowMs(ports, 250).replace(
        `port: ${ports[1]}, replica_set: rs0`,
        `port: ${ports[1]}, replica_set: rs0, arbiter_only: true`,
      ),
    );
    const no = await ok(home, ["cluster", "reconfigure", "rc", other, "--auto-approve"], 1);
    assert.match(
      no.stderr,
      /differs from cluster rc in more than runtime_config, members' priority, votes and hidden, and the default write concern:\n.*arbiter_only false → true/,
    );
    assert.match(
      no.stderr,
      /cluster reconfigure changes runtime_config, members' priority, votes and hidden, and global\.default_write_concern only/,
    );
    // A storage layout fixed when the data files were made: mongod would refuse the data.
    const layout = await writeTopology(
      home,
      "rc6.yaml",
      with250And(ports, "storage.directoryPerDB: true"),
    );
    const fixed = await ok(home, ["cluster", "reconfigure", "rc", layout, "--plan-only"], 1);
    assert.match(
      fixed.stderr,
      /changes settings fixed when the data files were made:\n {2}• mongod-localhost-\d+: storage\.directoryPerDB \(unset\) → true/,
    );
    // Its default written out is no change of layout.
    const defaults = await writeTopology(
      home,
      "rc8.yaml",
      with250And(ports, "storage.directoryPerDB: false"),
    );
    await ok(home, ["cluster", "reconfigure", "rc", defaults, "--plan-only"]);
    // An oplog size change is planned (the file says it), with what mongod does with it.
    const oplog = await writeTopology(
      home,
      "rc7.yaml",
      with250And(ports, "replication.oplogSizeMB: 2048"),
    );
    const sized = await ok(home, ["cluster", "reconfigure", "rc", oplog, "--plan-only"]);
    assert.match(sized.stdout, /mongod keeps the size of an oplog that exists/);
    // An option the cluster's series does not know is refused before planning.
    const bad = await writeTopology(
      home,
      "rc4.yaml",
      withSlowMs(ports, 250).replace(
        "operationProfiling: { slowOpThresholdMs: 250 }",
        "storage.journal.enabled: true",
      ),
    );
    const gone = await ok(home, ["cluster", "reconfigure", "rc", bad, "--plan-only"], 1);
    assert.match(
      gone.stderr,
      /storage\.journal\.enabled is not a mongod 7\.0\.\d+ option \(removed in 6\.1\)/,
    );
  } finally {
    await killAll(home);
  }
});

Deno.test("cluster reconfigure: a saved plan applies later; a member that refuses its new configuration fails it, a repair is refused, and a reconfigure again starts it and restarts the rest; a process down elsewhere is refused up front", async () => {
  const home = await tempHome();
  try {
    const ports = freePorts(3);
    const mirror = await testMirror();
    await deployRc(home, ports, mirror);
    const next = await writeTopology(home, "rc2.yaml", withSlowMs(ports, 250));

    // Saved, reviewed, applied later by its ID.
    const saved = JSON.parse(
      (await ok(home, ["cluster", "reconfigure", "rc", next, "--plan-only", "--json"])).stdout,
    );
    await ok(home, ["plan", "show", saved.plan_id]);
    // Its diff counts each configuration file it writes anew as changed, not as unchanged
    // because the copy staged by the deploy matches the one in place (tester83).
    const diff = JSON.parse((await ok(home, ["plan", "diff", saved.plan_id, "--json"])).stdout);
    type FileChange = { resource_id: string; action: string; before?: unknown; after?: unknown };
    const confs = (diff.changes as FileChange[])
      .filter((c) => c.resource_id.endsWith("mongod.conf"));
    assert.equal(confs.length, 3, JSON.stringify(diff.changes));
    assert.ok(confs.every((c) => c.action === "update"), JSON.stringify(confs));
    // …with the settings it changes, old and new, as Terraform's diff shows them (tester93).
    for (const c of confs) {
      assert.deepEqual(c.before, { "operationProfiling.slowOpThresholdMs": 100 });
      assert.deepEqual(c.after, { "operationProfiling.slowOpThresholdMs": 250 });
    }
    const text = (await ok(home, ["plan", "diff", saved.plan_id])).stdout;
    assert.match(
      text,
      /~ file .*mongod\.conf +\(change: operationProfiling\.slowOpThresholdMs 100 → 250\)/,
    );
    await ok(home, ["plan", "apply", saved.plan_id, "--auto-approve"]);
    assert.deepEqual(await slowMs(home, ports), [250, 250, 250]);

    // Hooks are not a reconfigure's to record.
    const hooked = await writeTopology(
      home,
      "rc3.yaml",
      withSlowMs(ports, 300, 'hooks:\n  after_apply: { command: "true" }\n'),
    );
    const refused = await ok(home, ["cluster", "reconfigure", "rc", hooked, "--auto-approve"], 1);
    assert.match(
      refused.stderr,
      /also changes hooks of cluster rc, which a reconfigure does not change/,
    );

    // A member refuses its new configuration (exit code 2, as the simulator's fault knob makes
    // it) and stays down: the apply fails, saying that a resume would fail the same way.
    const third = await writeTopology(home, "rc4.yaml", withSlowMs(ports, 300));
    const failed = await mup(["cluster", "reconfigure", "rc", third, "--auto-approve"], {
      home,
      env: { MUP_SIM_CRASH_AT_STARTUP: "2", MUP_SIM_FAULT_PORTS: String(ports[1]) },
    });
    assert.equal(failed.code, 1, output(failed));
    assert.match(failed.stdout, /exited with code 2/);
    // Its start ran and failed: not "has not run" (tester96).
    assert.match(
      failed.stdout,
      new RegExp(
        `Down now: localhost:${ports[1]} \\(this reconfigure stopped it; its start failed\\)`,
      ),
    );
    assert.match(
      failed.stdout,
      /fix runtime_config in .*rc4\.yaml and reconfigure again: `mup cluster reconfigure rc .*rc4\.yaml`/,
    );
    // A repair from the metadata would not restart what runs the new files: refused.
    const repair = await ok(home, deployArgs("rc", next, mirror, ["--plan-only"]), 1);
    assert.match(repair.stderr, /has an unfinished reconfigure/);
    // So is a start of the member on the file the metadata does not describe: the hint names
    // the reconfigure with its file, ready to paste.
    const start = await ok(home, ["cluster", "start", "rc", "--plan-only"], 1);
    assert.match(
      start.stdout + start.stderr,
      /the unfinished reconfigure \(apply apply-\w+\) wrote.* Finish that reconfigure \(fix runtime_config in \S*rc4\.yaml and reconfigure again: `mup cluster reconfigure rc \S*rc4\.yaml` \(it writes every configuration again, starts what is down, then restarts the rest\)\)/,
    );
    // Nor is a resume offered for it anywhere: it would start the member on the same file.
    assert.doesNotMatch(start.stdout + start.stderr, /`mup plan resume rc` completes it/);
    assert.match(
      start.stdout,
      /a resume alone cannot finish it while its failure stands: fix runtime_config/,
    );
    // Reconfigured again (the fault gone): every member planned, the down one started first.
    const again = await ok(home, ["cluster", "reconfigure", "rc", third, "--auto-approve"]);
    assert.match(again.stdout, new RegExp(`Started mongod localhost:${ports[1]}`));
    // The review says why every member is written again and restarted (tester61).
    assert.match(
      again.stdout.replace(/\s+/g, " "),
      /the configuration file of \S+.* differs? from the one mup generates from the metadata .*every process's file is written again/,
    );
    assert.deepEqual(await slowMs(home, ports), [300, 300, 300]);
    assert.ok((await display(home, "rc")).healthy);

    // A process down elsewhere would fail the final health check after every restart: refused
    // when planned, and when a plan saved before is applied, before anything is written.
    const fourth = await writeTopology(home, "rc5.yaml", withSlowMs(ports, 350));
    const early = JSON.parse(
      (await ok(home, ["cluster", "reconfigure", "rc", fourth, "--plan-only", "--json"])).stdout,
    );
    // Killed outside mup (the metadata unchanged, so the saved plan is not stale).
    await killMember(home, "rc", ports[2]);
    const late = await ok(home, ["plan", "apply", early.plan_id, "--auto-approve"], 1);
    assert.match(
      late.stdout,
      new RegExp(
        `operation mark-status-unknown: members_reachable: not answering: localhost:${ports[2]}`,
      ),
    );
    const conf = (p: number) =>
      Deno.readTextFile(
        path.join(clusterDir(home, "rc"), "deploy", "conf", `mongod-${p}`, "mongod.conf"),
      );
    assert.match(await conf(ports[0]), /slowOpThresholdMs: 300/, "nothing written");
    const down = await ok(home, ["cluster", "reconfigure", "rc", fourth, "--plan-only"], 1);
    assert.match(
      down.stdout + down.stderr,
      new RegExp(
        `localhost:${ports[2]} is not running: a reconfiguration restarts processes one at a ` +
          "time and verifies the whole cluster's health at its end",
      ),
    );

    // Files that are not what the metadata says (a reconfigure replaced by a stop before it
    // finished): a reconfigure plans every process, starting what is down, never "No changes".
    await ok(home, ["cluster", "stop", "rc", "--auto-approve"]);
    const confFile = (p: number) =>
      path.join(clusterDir(home, "rc"), "deploy", "conf", `mongod-${p}`, "mongod.conf");
    // One edited, one gone, one its host cannot read (a directory in its place): the review says
    // which is which, and why for the one it could not read (tester87).
    await Deno.writeTextFile(
      confFile(ports[0]),
      (await conf(ports[0])).replace("slowOpThresholdMs: 300", "slowOpThresholdMs: 999"),
    );
    await Deno.remove(confFile(ports[1]));
    await Deno.remove(confFile(ports[2]));
    await Deno.mkdir(confFile(ports[2]));
    const review = (await ok(home, ["cluster", "reconfigure", "rc", third, "--plan-only"]))
      .stdout.replace(/\s+/g, " ");
    assert.match(
      review,
      new RegExp(
        `the configuration file of localhost:${ports[0]} on its host differs from the one mup ` +
          `generates from the metadata .*; the configuration file of localhost:${ports[1]} is ` +
          `gone from its host; the configuration file of localhost:${ports[2]} could not be ` +
          "read on its host \\(.*[Dd]irectory.*\\), so mup cannot tell whether it is the one " +
          "it generates from the metadata: every process's file is written again",
      ),
    );
    await Deno.remove(confFile(ports[2]));
    const back = await ok(home, ["cluster", "reconfigure", "rc", third, "--auto-approve"]);
    assert.doesNotMatch(back.stdout, /No changes/);
    assert.deepEqual(await slowMs(home, ports), [300, 300, 300]);
    assert.ok((await display(home, "rc")).healthy);
  } finally {
    await killAll(home);
  }
});
