/**
 * Faults real users hit (issue 11), through the CLI on the simulator: clusters sharing ports or
 * directories, port holders, re-running failed deploys, resume re-checks, re-deploys, timeouts.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import {
  deployArgs,
  freePorts,
  killAll,
  mup,
  output,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { clusterDir, count, currentState, meta, processLogs } from "./apply_helpers.ts";
import { deploy, failedReplicaSet, healthySet } from "./faults_helpers.ts";
import { clusterDifferences } from "../lib/plan/redeploy.ts";
import type { Topology } from "../lib/topology/schema.ts";
import { installFixture } from "./fixture.ts";
import { killMember } from "./lifecycle_helpers.ts";

installFixture();

Deno.test("a second cluster on the first's port or data directory is refused, naming it, running or stopped", async () => {
  const home = await tempHome();
  try {
    const [p, q] = freePorts(2);
    const dataDir = path.join(home, "shared-data");
    // A plan made before the first cluster existed is refused at apply time as well.
    const early = await deploy(
      home,
      "early",
      `mongod_servers:\n  - { host: localhost, port: ${p} }\n`,
      ["--plan-only"],
    );
    assert.equal(early.code, 0, early.stdout + early.stderr);
    const first = await deploy(
      home,
      "first",
      `mongod_servers:\n  - { host: localhost, port: ${p}, data_dir: ${dataDir} }\n`,
    );
    assert.equal(first.code, 0, first.stdout + first.stderr);
    await killAll(home); // stopped, not forgotten
    const samePort = await deploy(
      home,
      "second",
      `mongod_servers:\n  - { host: 127.0.0.1, port: ${p} }\n`,
    );
    assert.equal(samePort.code, 1, samePort.stdout + samePort.stderr);
    assert.match(
      samePort.stdout + samePort.stderr,
      new RegExp(
        `mongod_servers\\[0\\] \\(127\\.0\\.0\\.1:${p}\\): port ${p} on 127\\.0\\.0\\.1 belongs to cluster first`,
      ),
    );
    const sameData = await deploy(
      home,
      "second",
      `mongod_servers:\n  - { host: localhost, port: ${q}, data_dir: ${dataDir} }\n`,
    );
    assert.equal(sameData.code, 1, sameData.stdout + sameData.stderr);
    assert.match(
      sameData.stdout + sameData.stderr,
      new RegExp(`data directory ${dataDir} belongs to cluster first`),
    );
    assert.ok(
      !(await Deno.stat(path.join(clusterDir(home, "second"), "meta.yaml")).catch(() => 0)),
    );
    const late = await mup(["plan", "apply", "early", "--auto-approve"], { home });
    assert.equal(late.code, 1, late.stdout + late.stderr);
    assert.match(late.stderr, new RegExp(`port ${p} on localhost belongs to cluster first`));
  } finally {
    await killAll(home);
  }
});

Deno.test("pre-flight names who holds a port", async () => {
  const home = await tempHome();
  const [p] = freePorts(1);
  const squatter = Deno.listen({ hostname: "127.0.0.1", port: p });
  try {
    const r = await deploy(home, "c1", `mongod_servers:\n  - { host: localhost, port: ${p} }\n`);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      new RegExp(`ports already in use: localhost:${p} \\(held by PID ${Deno.pid} \\(\\S*deno`),
    );
  } finally {
    squatter.close();
    await killAll(home);
  }
});

Deno.test("re-running a deploy that failed part way: pre-flight knows the cluster's own processes, and the review which of them run", async () => {
  const home = await tempHome();
  try {
    const ports = freePorts(3);
    const text = await failedReplicaSet(home, ports);
    const again = await deploy(home, "c1", text);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.doesNotMatch(again.stdout, /ports already in use/);
    // The review says which starts find their server running (the first attempt's two).
    assert.match(again.stdout, /• Start 3 mongod processes \(parallel; 2 already running\)/);
    assert.equal(count(again.stdout, /• Checks that it runs: .*mongod -f /), 2, again.stdout);
    assert.equal(count(again.stdout, /• Runs .*mongod -f /), 1, again.stdout);
    // …and which secrets it keeps, and that the archive is the cached one.
    assert.match(again.stdout, /• Keep the cluster's keyfile \(an earlier attempt made it\)/);
    assert.match(again.stdout, /• Keep the password of admin \(an earlier attempt made it\)/);
    assert.match(again.stdout, /• Use the cached MongoDB 7\.0\.\d+ for linux-\S+ \(no download\)/);
    // The archive's own size (the simulator's tarballs are a few KB), not rounded up to 1MB.
    assert.match(again.stdout, /Download size: \d+KB \(cached\)/);
    // The failed attempt's apply could be resumed: the review says this plan replaces it.
    assert.match(
      again.stdout,
      /apply apply-\S+ \(deploy\) failed before it finished: this plan replaces it, .*`mup plan resume c1` completes it instead/,
    );
    await healthySet(ports, { home, cluster: "c1" });
  } finally {
    await killAll(home);
  }
});

Deno.test("re-running a deploy that failed after its replica set was initiated: the review says the initiation changes nothing, and none is made", async () => {
  const home = await tempHome();
  try {
    const ports = freePorts(3);
    const members = ports.map((p, i) =>
      `  - { host: localhost, port: ${p}, replica_set: rs0${i ? "" : ", priority: 2"} }`
    ).join("\n");
    // A hook before finalize fails the first attempt after the initiation.
    const failing = await deploy(
      home,
      "c1",
      `mongod_servers:\n${members}\nhooks:\n  before_phase: { phase: finalize, command: "exit 3" }\n`,
    );
    assert.equal(failing.code, 1, output(failing));
    assert.match(failing.stdout, /Initialized rs0 replica set/);
    const again = await deploy(home, "c1", `mongod_servers:\n${members}\n`);
    assert.equal(again.code, 0, output(again));
    assert.match(again.stdout, /• Initialize rs0 replica set \(an earlier attempt initiated it\)/);
    const st = await currentState(home, "c1");
    assert.equal(st.operation_states["init-rs-rs0"]?.executions, 0, "no second replSetInitiate");
    await healthySet(ports, { home, cluster: "c1" });
  } finally {
    await killAll(home);
  }
});

Deno.test("plan resume restarts a member that died after it was recorded as started, and says so", async () => {
  const home = await tempHome();
  try {
    const ports = freePorts(3);
    await failedReplicaSet(home, ports);
    await killMember(home, "c1", ports[1]);
    // Whether its wait had completed before the deploy failed (the starts run side by side).
    const waited = (await currentState(home, "c1")).operation_states[
      `wait-mongod-localhost-${ports[1]}`
    ]?.status === "completed";
    const r = await mup(["plan", "resume", "c1"], { home });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      new RegExp(
        `↻ Start rs0 member localhost:${
          ports[1]
        }: completed before, but its effect is no longer in place; running it again`,
      ),
    );
    // What waited for it is waited for again.
    (waited ? assert.match : assert.doesNotMatch)(
      r.stdout,
      new RegExp(
        `↻ Wait for rs0 member localhost:${
          ports[1]
        }: completed before, but the process it waited for is started again; running it again`,
      ),
    );
    // The re-run start has its own line, marked ↻; the third member's start its own.
    assert.match(r.stdout, new RegExp(`✓ ↻ Started mongod localhost:${ports[1]} \\[`));
    assert.match(r.stdout, new RegExp(`✓ Started mongod localhost:${ports[2]} \\[`));
    // Waits are never "already in place": finding the server answering is what they wait for.
    assert.doesNotMatch(r.stdout, /ready \((\d+ )?already in place\)/);
    await healthySet(ports, { home, cluster: "c1" });
  } finally {
    await killAll(home);
  }
});

Deno.test("plan resume after the only member of an initiated set died: its initiation is named as not confirmed while the member was down, then found in place (no second replSetInitiate)", async () => {
  const home = await tempHome();
  try {
    const [port] = freePorts(1);
    // A hook before finalize fails the first attempt after the initiation.
    const failing = await deploy(
      home,
      "c1",
      `mongod_servers:\n  - { host: localhost, port: ${port}, replica_set: rs0 }\nhooks:\n  before_phase: { phase: finalize, command: "exit 3" }\n`,
    );
    assert.equal(failing.code, 1, output(failing));
    await killMember(home, "c1", port);
    // The plan's failing hook fails the resume again at finalize: only what comes before counts.
    const r = await mup(["plan", "resume", "c1"], { home });
    assert.match(
      r.stdout,
      /↻ Initialize rs0 replica set: completed before, but its process is down, so it could not be confirmed/,
    );
    assert.doesNotMatch(
      r.stdout,
      /↻ Initialize rs0 replica set: completed before, but its effect is no longer in place/,
    );
    const st = await currentState(home, "c1");
    // The deploy's one: the resume found it in place.
    assert.equal(st.operation_states["init-rs-rs0"]?.executions, 1, "no second replSetInitiate");
    for (const [, log] of await processLogs(home, "c1")) {
      assert.equal(count(log, /"id":21356,/), 1, "one replSetInitiate received");
    }
  } finally {
    await killAll(home);
  }
});

Deno.test("plan resume keeps the phases in order: a phase reopened for what runs again ends before a later phase begins, even with a completed phase between them", async () => {
  const home = await tempHome();
  try {
    const ports = freePorts(3);
    const members = ports.map((p, i) =>
      `  - { host: localhost, port: ${p}, replica_set: rs0${i ? "" : ", priority: 2"} }`
    ).join("\n");
    // A hook before finalize fails the first attempt only, after the initiation.
    const once = path.join(home, "failed-once");
    const failing = await deploy(
      home,
      "c1",
      `mongod_servers:\n${members}\nhooks:\n  before_phase: { phase: finalize, command: "test -f '${once}' || { touch '${once}'; exit 3; }" }\n`,
    );
    assert.equal(failing.code, 1, output(failing));
    // A secondary dies: its start (phase Deploy) runs again; Initialize, which asked the
    // primary, stays completed.
    await killMember(home, "c1", ports[1]);
    const r = await mup(["plan", "resume", "c1"], { home });
    assert.equal(r.code, 0, output(r));
    const headers = [...r.stdout.matchAll(/^Phase (\d+)\/\d+: (\w+)/gm)];
    assert.deepEqual(headers.map((h) => h[2]), ["Deploy", "Finalize"], r.stdout);
    // Finalize (its health check included) begins once the start run again has ended.
    assert.ok(headers[1].index! > r.stdout.lastIndexOf("↻"), r.stdout);
    await healthySet(ports, { home, cluster: "c1" });
  } finally {
    await killAll(home);
  }
});

Deno.test("plan resume is refused before anything starts when the port of a member it would start again (its process died) is taken, naming the holder", async () => {
  const home = await tempHome();
  try {
    const ports = freePorts(3);
    await failedReplicaSet(home, ports);
    await killMember(home, "c1", ports[1]);
    const squatter = Deno.listen({ hostname: "127.0.0.1", port: ports[1] });
    try {
      const r = await mup(["plan", "resume", "c1"], { home });
      assert.equal(r.code, 1, output(r));
      assert.match(r.stderr, /nothing was resumed/);
      assert.match(
        r.stderr,
        new RegExp(`its port localhost:${ports[1]} is held by PID ${Deno.pid}`),
      );
      assert.match(r.stderr, /free the ports, then resume again/);
      assert.doesNotMatch(r.stdout, /Resuming apply/, "a refused resume never began");
      // The member the failed start left down was not started meanwhile.
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: ports[2] }).catch(() =>
        undefined
      );
      conn?.close();
      assert.equal(conn, undefined, "nothing was started");
    } finally {
      squatter.close();
    }
    const resumed = await mup(["plan", "resume", "c1"], { home });
    assert.equal(resumed.code, 0, output(resumed));
    assert.match(resumed.stdout, /Resuming apply /);
    await healthySet(ports, { home, cluster: "c1" });
  } finally {
    await killAll(home);
  }
});

Deno.test("--wait-timeout is recorded in every wait of the plan; the error names the timeout and how to raise it", async () => {
  const home = await tempHome();
  try {
    const ports = freePorts(3);
    const text = `mongod_servers:\n${
      ports.map((p) => `  - { host: localhost, port: ${p}, replica_set: rs0 }`).join("\n")
    }\n`;
    const r = await deploy(home, "c1", text, ["--wait-timeout", "5s"], {
      MUP_SIM_ELECTION_DELAY_MS: "30000",
    });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /replica set rs0 has no primary 5s after replSetInitiate; the wait is operation init-rs-rs0's timeout_ms \(5s\) in plan plan-\w+; to wait longer, plan again with --wait-timeout \(e\.g\. `mup cluster deploy c1 \S+ --version 7\.0\.14 --wait-timeout 10s`\)/,
    );
    // The topology file is named, not a placeholder.
    assert.ok(r.stdout.includes(`mup cluster deploy c1 ${home}/c1.yaml --version`), r.stdout);
    const shown = await mup(["plan", "show", "c1", "--json"], { home });
    const plan = JSON.parse(shown.stdout);
    type Op = {
      type: string;
      target: { timeout_ms?: unknown; params: Record<string, string> };
    };
    const ops: Op[] = plan.phases.flatMap((p: { operations: Op[] }) => p.operations);
    const waits = ops.filter((o) =>
      ["wait_for_process", "init_replica_set", "verify_health"].includes(o.type)
    );
    assert.equal(waits.length, 5);
    // Numbers are stored as JSON numbers, not strings.
    for (const o of waits) {
      assert.strictEqual(o.target.timeout_ms, 5000);
      assert.equal(o.target.params.timeout_ms, undefined);
    }
    // Starting a forking mongod waits for it to be ready: --wait-timeout only ever raises that.
    for (const o of ops.filter((o) => o.type === "start_process")) {
      assert.strictEqual(o.target.timeout_ms, 120000);
    }
    const bad = await deploy(home, "c2", text, ["--wait-timeout", "soon"]);
    assert.equal(bad.code, 1, output(bad));
    assert.match(
      bad.stderr,
      /--wait-timeout must be a duration from 1s to \S+ such as 90s, 5m, 1h30m .*not "soon"/,
    );
  } finally {
    await killAll(home);
  }
});

Deno.test("re-deploying a cluster as recorded repairs it: plan diff shows no changes, a dead member is restarted, nothing twice", async () => {
  const home = await tempHome();
  try {
    const ports = freePorts(3);
    const text = `mongod_servers:\n${
      ports.map((p, i) =>
        `  - { host: localhost, port: ${p}, replica_set: rs0${i ? "" : ", priority: 2"} }`
      )
        .join("\n")
    }\n`;
    const first = await deploy(home, "c1", text);
    assert.equal(first.code, 0, first.stdout + first.stderr);
    const diff = await mup(["plan", "diff", "c1", "--detailed-exitcode"], { home });
    assert.equal(diff.code, 0, diff.stdout + diff.stderr);
    assert.match(diff.stdout, /No changes\. The cluster matches the topology\./);

    await killMember(home, "c1", ports[2]);
    const downDiff = await mup(["plan", "diff", "c1", "--detailed-exitcode"], { home });
    assert.equal(downDiff.code, 2, output(downDiff));
    assert.match(
      downDiff.stdout,
      new RegExp(`\\+ process +mongod-localhost-${ports[2]} +\\(start\\)`),
    );
    assert.doesNotMatch(downDiff.stdout, new RegExp(`mongod-localhost-${ports[0]} +\\(start\\)`));
    // Said in words, what is left as it is only counted.
    assert.match(downDiff.stdout, /Summary: 1 to start, \d+ unchanged\./);
    assert.doesNotMatch(downDiff.stdout, /to none|\(none\)/);

    // Asked at a terminal: the review starts the dead member and creates nothing; the members
    // that run are only checked.
    const asked = await mup(
      deployArgs("c1", path.join(home, "c1.yaml"), await testMirror(), []),
      { home, stdin: "no\n" },
    );
    assert.match(
      asked.stdout,
      new RegExp(
        `This will:\n  • Start 1 MongoDB process that does not run: localhost:${ports[2]}\n` +
          `  • Re-check what is in place \\(\\d+ operations\\), changing nothing found there\n\n`,
      ),
      output(asked),
    );
    assert.doesNotMatch(asked.stdout, /Create \d+ MongoDB process/, output(asked));
    for (const [i, p] of ports.entries()) {
      assert.match(
        asked.stdout,
        new RegExp(`• ${i === 2 ? "Runs " : "Checks that it runs: "}\\S+ -f \\S+mongod-${p}/`),
        output(asked),
      );
    }
    const repair = await deploy(home, "c1", text);
    assert.equal(repair.code, 0, repair.stdout + repair.stderr);
    // The review lists what changes (the dead member's start); the rest is counted.
    const review = repair.stdout.slice(0, repair.stdout.indexOf("Applying plan"));
    assert.match(review, new RegExp(`• Start rs0 member localhost:${ports[2]}\n`));
    assert.doesNotMatch(review, /Generate configuration files|Initialize rs0/);
    assert.match(review, /• \d+ operations re-check what is in place/);
    assert.match(repair.stdout, /✓ Started 3 mongod processes \(2 already running\) \[/);
    await healthySet(ports, { home, cluster: "c1" });
    const logs = await processLogs(home, "c1");
    for (const [i, p] of ports.entries()) {
      assert.equal(count(logs.get(`mongod-${p}`)!, /"id":4615611/), i === 2 ? 2 : 1, `mongod-${p}`);
    }
    const m = await meta(home, "c1");
    assert.equal(m.serial, 2);
    const after = await mup(["plan", "diff", "c1"], { home });
    assert.match(after.stdout, /No changes\. The cluster matches the topology\./);
    const json = JSON.parse((await mup(["plan", "diff", "c1", "--json"], { home })).stdout);
    assert.equal(json.no_changes, true);
  } finally {
    await killAll(home);
  }
});

Deno.test("re-deploying a cluster with another topology or version is refused before planning, listing each difference", async () => {
  const home = await tempHome();
  try {
    const ports = freePorts(4);
    const member = (p: number, extra = "") =>
      `  - { host: localhost, port: ${p}, replica_set: rs0${extra} }`;
    const text = `mongod_servers:\n${ports.slice(0, 3).map((p) => member(p)).join("\n")}\n`;
    const first = await deploy(home, "c1", text);
    assert.equal(first.code, 0, first.stdout + first.stderr);
    const before = await meta(home, "c1");

    const changed = `mongod_servers:\n${
      member(ports[0], ", runtime_config: { net.maxIncomingConnections: 100 }")
    }\n${member(ports[1])}\n${member(ports[3])}\n`;
    const r = await deploy(home, "c1", changed, [], {});
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(
      r.stderr,
      /cluster c1 is already deployed \(replica_set, mongo 7\.0\.14\), and this differs from it:/,
    );
    assert.match(
      r.stderr,
      new RegExp(
        `• add rs0 member localhost:${ports[3]}: made on the running cluster by ` +
          "`mup cluster scale-out c1 .*`",
      ),
    );
    assert.match(
      r.stderr,
      new RegExp(
        `• remove rs0 member localhost:${ports[2]}: made on the running cluster by ` +
          "`mup cluster scale-in c1 <topology>`",
      ),
    );
    assert.match(
      r.stderr,
      new RegExp(
        `• rs0 member localhost:${
          ports[0]
        }: runtime_config .*: made on the running cluster by \`mup cluster reconfigure c1 <topology>\``,
      ),
    );

    // Another kind of cluster: one difference, that mup does not make, not a list of scale-outs
    // and scale-ins that would each refuse it (tester40 M3).
    const sharded =
      `config_servers:\n  - { host: localhost, port: ${ports[1]}, replica_set: cfg }\n` +
      `mongos_servers:\n  - { host: localhost, port: ${ports[3]} }\n` +
      `mongod_servers:\n${member(ports[0])}\n`;
    const kind = await deploy(home, "c1", sharded, [], {});
    assert.equal(kind.code, 1, output(kind));
    assert.match(
      kind.stderr,
      /• the topology makes cluster c1, a replica set, a sharded cluster: mup does not turn one kind of cluster into another/,
    );
    assert.doesNotMatch(kind.stderr, /scale-out|scale-in|needs kind change/);

    const upgrade = await mup(
      deployArgs("c1", await writeTopology(home, "c1.yaml", text), await testMirror(), [
        "--auto-approve",
      ], "8.0"),
      { home },
    );
    assert.equal(upgrade.code, 1, upgrade.stdout + upgrade.stderr);
    assert.match(
      upgrade.stderr,
      new RegExp(
        "• server version 7\\.0\\.14 → 8\\.0\\.4 \\(newer: upgraded on the running cluster by " +
          `\`mup cluster upgrade c1 --version 8\\.0\\.4 --mirror ${await testMirror()}\`\\)\n`,
      ),
    );
    // Another variant is a switch of distribution, not an upgrade; an older release a downgrade.
    const percona = await mup(
      deployArgs("c1", await writeTopology(home, "c1.yaml", text), await testMirror(), [
        "--auto-approve",
        "--variant",
        "percona",
      ], "7.0"),
      { home },
    );
    assert.equal(percona.code, 1, output(percona));
    assert.match(
      percona.stderr,
      /• server variant mongo 7\.0\.14 → percona 7\.0\.5-3 \(needs variant-switch, which mup cannot do yet\)/,
    );
    assert.match(
      percona.stderr,
      /• server version 7\.0\.14 → 7\.0\.5-3 \(older\) \(needs downgrade/,
    );
    assert.doesNotMatch(percona.stderr, /upgrade/);
    assert.match(percona.stderr, /--version 7\.0\.14 --variant mongo to re-check it/);
    assert.ok(
      percona.stderr.includes(
        `\`mup cluster show-config c1 > ${
          path.join(home, "c1.recorded.yaml")
        }\` writes it where the cluster's hooks run`,
      ),
      output(percona),
    );
    // The recorded topology, as show-config prints it, is a topology file a repair accepts.
    const shown = await mup(["cluster", "show-config", "c1"], { home });
    assert.equal(shown.code, 0, output(shown));
    assert.match(shown.stdout, /^# cluster c1: replica_set, mongo 7\.0\.14/);
    // No empty config_servers/mongos_servers lists: an entry appended lands in mongod_servers.
    assert.doesNotMatch(shown.stdout, /: \[\]/);
    assert.match(shown.stdout, /mongod_servers:\n( {2}.*\n?)+$/);
    const again = await mup(
      deployArgs("c1", await writeTopology(home, "shown.yaml", shown.stdout), await testMirror(), [
        "--plan-only",
      ], "7.0.14"),
      { home },
    );
    assert.equal(again.code, 0, output(again));
    assert.match(again.stdout, /No changes\. The cluster matches the topology\./, output(again));
    const recorded = before.topology as Topology;
    const sameRelease = clusterDifferences(
      { topology: recorded, version: "7.0.5", variant: "mongo" },
      { topology: recorded, version: "7.0.5-3", variant: "percona" },
      "/d",
    );
    assert.deepEqual(sameRelease, [{
      change: "server variant mongo 7.0.5 → percona 7.0.5-3 (the same release, 7.0.5: no " +
        "version change)",
      command: "variant-switch",
    }]);

    const after = await meta(home, "c1");
    assert.equal(after.version, "7.0.14");
    assert.equal(after.serial, before.serial, "nothing was recorded");
    await healthySet(ports.slice(0, 3), { home, cluster: "c1" });
    assert.ok(
      !(await Deno.stat(path.join(clusterDir(home, "c1"), "deploy", `mongod-${ports[3]}`)).catch(
        () => 0,
      )),
    );
  } finally {
    await killAll(home);
  }
});

Deno.test("a configuration mongod refuses (exit code 2) fails the deploy saying to fix the topology and plan again, not to resume; fixed, the deploy completes", async () => {
  const home = await tempHome();
  try {
    const [p] = freePorts(1);
    // What mup cannot know beforehand (a setParameter name, a setting of another build): the
    // server exits with code 2 at its start, as the simulator's fault knob makes it.
    const text = `mongod_servers:\n  - { host: localhost, port: ${p} }\n`;
    const bad = await deploy(home, "cfg", text, [], {
      MUP_SIM_CRASH_AT_STARTUP: "2",
      MUP_SIM_FAULT_PORTS: String(p),
    });
    assert.equal(bad.code, 1, output(bad));
    assert.match(bad.stdout, /exited with code 2/);
    assert.match(
      bad.stdout,
      /The server refused its configuration \(exit code 2: an option or a value mongod does not accept\), and a resume would start it on the same file: fix runtime_config in .*cfg\.yaml and plan again: `mup cluster deploy cfg .*cfg\.yaml --version 7\.0\.14 --mirror [^`]+` \(the new plan re-checks what is already in place\)\nState saved: /,
    );
    assert.match(
      bad.stdout,
      /A resume alone cannot finish it while that stands: the error above says what does/,
    );
    assert.doesNotMatch(bad.stdout, /To resume/);
    const good = await deploy(home, "cfg", text);
    assert.equal(good.code, 0, output(good));
    // The plan that replaces the failed apply does not offer its resume either.
    assert.match(
      good.stdout,
      /this plan replaces it, .*\(a resume alone cannot finish it while its failure stands: fix runtime_config in \S*cfg\.yaml and plan again: `mup cluster deploy cfg /,
    );
  } finally {
    await killAll(home);
  }
});
