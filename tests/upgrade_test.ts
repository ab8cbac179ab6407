/**
 * `mup cluster upgrade` through the CLI on real simulator processes: a replica set 6.0 → 7.0
 * under a majority-writing client, the refusals MongoDB's upgrade rules ask for (one series at a
 * time, the old series' FCV first), the FCV raised only when asked; a sharded cluster's order
 * (balancer, config servers, shards, mongos) and its FCV through mongos.
 */
import assert from "node:assert/strict";
import { MongoClient } from "mongodb";
import {
  deployArgs,
  killAll,
  mup,
  output,
  replicaSetTopology,
  smallShardedTopology,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import * as path from "node:path";
import {
  authOptions,
  clusterDir,
  count,
  currentState,
  meta,
  processLogs,
  withClient,
} from "./apply_helpers.ts";
import { display, killWhen, ok, stablePorts, WriteLoad } from "./lifecycle_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

/** A direct client to one process, logged in as the cluster's admin; the caller closes it. */
async function adminClient(home: string, cluster: string, port: number): Promise<MongoClient> {
  return new MongoClient(`mongodb://localhost:${port}/?directConnection=true`, {
    serverSelectionTimeoutMS: 15_000,
    ...(await authOptions({ home, cluster })),
  });
}

/** buildInfo version and FCV each process reports, asked directly as the cluster's admin. */
async function reported(home: string, cluster: string, ports: number[], mongos: number[] = []) {
  const out: { port: number; version: string; fcv?: string }[] = [];
  for (const port of ports) {
    const c = await adminClient(home, cluster, port);
    try {
      const admin = c.db("admin");
      const { version } = await admin.command({ buildInfo: 1 });
      const fcv = mongos.includes(port) ? undefined : (await admin.command({
        getParameter: 1,
        featureCompatibilityVersion: 1,
      })).featureCompatibilityVersion.version;
      out.push({ port, version, fcv });
    } finally {
      await c.close();
    }
  }
  return out;
}

async function deploy60(home: string, name: string, topology: string): Promise<void> {
  const file = await writeTopology(home, `${name}.yaml`, topology);
  await ok(home, deployArgs(name, file, await testMirror(), ["--auto-approve"], "6.0"));
}

const upgrade = (name: string, version: string, ...extra: string[]) => [
  "cluster",
  "upgrade",
  name,
  "--version",
  version,
  "--mirror",
  "",
  ...extra,
];

Deno.test("replica set 6.0 → 7.0 under load, mup killed part way and resumed: no acknowledged write lost, nothing twice, one series at a time, the FCV raised only when asked", async () => {
  const home = await tempHome();
  const ports = stablePorts(3);
  const mirror = await testMirror();
  const up = (v: string, ...extra: string[]) =>
    upgrade("rs", v, ...extra).map((a) => a === "" ? mirror : a);
  try {
    await deploy60(home, "rs", replicaSetTopology(ports));
    const from = String((await meta(home, "rs")).version);
    assert.match(from, /^6\.0\./);

    // Two series at once: refused before anything changes, naming the step to take first.
    const skip = await ok(home, [...up("8.0"), "--auto-approve"], 1);
    assert.match(skip.stdout + skip.stderr, /skips a release series.*--version 7\.0 --set-fcv/s);
    assert.equal(String((await meta(home, "rs")).version), from);
    // Without --version, the example is the next series, not the one it runs (tester98 #5).
    const bare = await ok(home, ["cluster", "upgrade", "rs", "--json"], 1);
    assert.match(
      JSON.parse(bare.stdout).hint,
      /`mup cluster upgrade rs --version 7\.0` runs the newest 7\.0\.x \(the series after 6\.0\)/,
    );

    // plan diff says what the upgrade changes in the metadata.
    await ok(home, [...up("7.0"), "--plan-only"]);
    const diff0 = await ok(home, ["plan", "diff", "rs"]);
    assert.match(diff0.stdout, /meta\.yaml +\(change: version 6\.0\.\d+ → 7\.0\.\d+\)/);
    const uri = (await display(home, "rs")).connection_string;
    const load = new WriteLoad(uri, "upgrade", await authOptions({ home, cluster: "rs" }));
    let missing: number[];
    try {
      while (load.acked.length < 20) await new Promise((r) => setTimeout(r, 20));
      // kill -9 of mup once the primary stepped down; plan resume finishes the upgrade.
      await killWhen(home, "rs", [...up("7.0"), "--auto-approve"], /^step-down-rs0$/, "completed");
      const crashed = await currentState(home, "rs");
      // display names the mix: the secondaries run 7.0, the metadata still 6.0.
      const mid = JSON.parse((await mup(["cluster", "display", "rs", "--json"], { home })).stdout);
      // As fields: the processes that answer, and which run the other release.
      assert.equal(mid.mixed_versions?.answering, 3, JSON.stringify(mid.mixed_versions));
      assert.equal(mid.mixed_versions.not_answering, 0);
      assert.equal(mid.mixed_versions.others.length, 1);
      assert.match(mid.mixed_versions.others[0].version, /^7\.0\.\d+$/);
      assert.deepEqual(
        mid.mixed_versions.others[0].processes,
        mid.processes.filter((p: { version: string }) => p.version !== mid.version)
          .map((p: { id: string }) => p.id).sort(),
      );
      assert.equal(mid.mixed_versions.others[0].processes.length, 2);
      // Half upgraded, some members run binaries the metadata does not name yet: other
      // commands still work (the old release can run them; the FCV is raised only after the
      // record) and their plans say what they do to the upgrade.
      const restart = await ok(home, ["cluster", "restart", "rs", "--plan-only"]);
      assert.match(
        restart.stdout,
        /The upgrade of cluster rs \(apply .*\) .* part way: .*starts processes on the recorded release.*mup plan resume rs/s,
      );
      const r = await ok(home, ["plan", "resume", "rs"]);
      assert.match(r.stdout, /Upgrade completed successfully!/);
      const st = await currentState(home, "rs");
      // The kill came right after the step-down, before the member's stop: a step-down lasts
      // 60 s only, so the resume makes it again (at most once more).
      const lapsed = (id: string) =>
        id === "step-down-rs0" && crashed.operation_states[id]?.status === "completed";
      for (const o of Object.values(st.operation_states)) {
        const inFlight = crashed.operation_states[o.id]?.status === "running";
        assert.ok(
          o.executions <= (inFlight || lapsed(o.id) ? 2 : 1) || /^(wait|verify)/.test(o.id),
          `${o.id} ran ${o.executions}×`,
        );
      }
      for (const [name, log] of await processLogs(home, "rs")) {
        assert.equal(count(log, /"id":4615611/), 2, `${name} started twice (deploy, upgrade)`);
      }
      const before = load.acked.length;
      while (load.acked.length < before + 20) await new Promise((r) => setTimeout(r, 20));
      await load.stop();
      missing = await load.missing();
    } finally {
      await load.stop();
      await load.close();
    }
    assert.deepEqual(missing, [], "every write acknowledged with w:majority survives the upgrade");

    const to = String((await meta(home, "rs")).version);
    assert.match(to, /^7\.0\./);
    const now = await reported(home, "rs", ports);
    assert.deepEqual(now.map((p) => p.version), [to, to, to], "every member runs the new binary");
    assert.deepEqual(now.map((p) => p.fcv), ["6.0", "6.0", "6.0"], "the FCV is left as it was");
    assert.equal((await meta(home, "rs")).feature_compatibility_version, "6.0", "and recorded");
    const shown = await ok(home, ["cluster", "display", "rs"]);
    assert.ok(
      shown.stdout.includes(
        `Version: ${to} (mongo), feature compatibility 6.0 (\`mup cluster upgrade rs --version ` +
          `${to} --set-fcv\` raises it)`,
      ),
      shown.stdout,
    );
    const binaries = (await meta(home, "rs")).binaries as { path: string; sha256: string }[];
    assert.ok(binaries.length > 0 && binaries.every((b) => b.path.includes(`mongo-${to}/`)));

    // The next series needs this one's FCV first: refused, naming the command that raises it.
    const early = await ok(home, [...up("8.0"), "--auto-approve"], 1);
    assert.match(
      early.stdout + early.stderr,
      new RegExp(
        `feature compatibility version of cluster rs is 6\\.0.*--version ${to} --set-fcv`,
        "s",
      ),
    );
    // Older, or another distribution: other commands' work, refused as such.
    const older = await ok(home, [...up("6.0", "--set-fcv"), "--auto-approve"], 1);
    assert.match(older.stdout + older.stderr, /that is a downgrade, which mup cannot do yet/);
    assert.doesNotMatch(older.stdout, /Phases:|No changes/, "a refused release plans nothing");
    const percona = await ok(home, [...up("7.0", "--variant", "percona"), "--auto-approve"], 1);
    assert.match(percona.stdout + percona.stderr, /switch of server distribution/);
    // Undoing the install would take the binaries from under the members that run them.
    const back = await ok(home, ["state", "rollback", "rs", "--checkpoint", "start"], 1);
    assert.match(back.stderr, /\(upgrade\) cannot be rolled back/);
    assert.deepEqual((await reported(home, "rs", ports)).map((p) => p.version), [to, to, to]);
    const again = await ok(home, [...up("7.0"), "--auto-approve"]);
    assert.match(again.stdout, /No changes\. Cluster rs already runs mongo 7\.0\./);

    // Without --mirror: the release's recorded mirror resolves the series.
    await ok(home, ["cluster", "upgrade", "rs", "--version", "7.0", "--set-fcv", "--plan-only"]);
    const diff = await ok(home, ["plan", "diff", "rs"]);
    assert.match(diff.stdout, /~ cluster +rs +\(change: featureCompatibilityVersion 6\.0 → 7\.0\)/);
    const fcv = await ok(home, [...up("7.0", "--set-fcv"), "--auto-approve"]);
    assert.match(fcv.stdout, /Set the feature compatibility version to 7\.0/);
    assert.doesNotMatch(fcv.stdout, /Stop rs0/, "raising the FCV restarts nothing");
    assert.deepEqual((await reported(home, "rs", ports)).map((p) => p.fcv), ["7.0", "7.0", "7.0"]);
    assert.equal((await meta(home, "rs")).feature_compatibility_version, "7.0");
    // Applied, the FCV plan has nothing left to do: plan diff says so rather than list it again.
    const after = await ok(home, ["plan", "diff", "rs", "--detailed-exitcode"]);
    assert.match(after.stdout, /\(upgrade\) was applied \(apply \S+, completed .*nothing of it/);
    assert.match(after.stdout, /`mup cluster upgrade rs --version 7\.0\.\d+ --set-fcv --mirror /);
    const json = JSON.parse((await ok(home, ["cluster", "display", "rs", "--json"])).stdout);
    assert.equal(json.feature_compatibility_version, "7.0");
    assert.deepEqual(
      json.processes.map((p: { feature_compatibility_version?: string }) =>
        p.feature_compatibility_version
      ),
      ["7.0", "7.0", "7.0"],
      "each member's own value, for scripts",
    );
    // Set down outside mup (as a downgrade begins): display says the record no longer holds.
    const set = `mongodb://${ports.map((p) => `localhost:${p}`).join(",")}/?replicaSet=rs0`;
    await withClient(
      set,
      (c) => c.db("admin").command({ setFeatureCompatibilityVersion: "6.0", confirm: true }),
      {
        home,
        cluster: "rs",
      },
    );
    const down = await ok(home, ["cluster", "display", "rs"]);
    assert.match(
      down.stdout,
      /feature compatibility 6\.0 \(recorded 7\.0: set outside mup since; `mup cluster upgrade rs --version 7\.0\.\d+ --set-fcv` raises it\)/,
    );
    const downJson = JSON.parse((await ok(home, ["cluster", "display", "rs", "--json"])).stdout);
    assert.deepEqual(
      [downJson.feature_compatibility_version, downJson.recorded_feature_compatibility_version],
      ["6.0", "7.0"],
    );
    await ok(home, [...up("7.0", "--set-fcv"), "--auto-approve"]);
    assert.equal(
      JSON.parse((await ok(home, ["cluster", "display", "rs", "--json"])).stdout)
        .recorded_feature_compatibility_version,
      undefined,
    );

    // A rolling restart afterwards runs the recorded (new) binaries, checked by their sha256.
    await ok(home, ["cluster", "restart", "rs", "--auto-approve"]);
    assert.deepEqual((await reported(home, "rs", ports)).map((p) => p.version), [to, to, to]);
    // The 6.0 binaries stayed installed beside the new ones; a destroy removes both.
    assert.deepEqual((await meta(home, "rs")).earlier_releases, [from && `mongo-${from}`]);
    const gone = await ok(home, ["cluster", "destroy", "rs", "--auto-approve"]);
    assert.doesNotMatch(gone.stdout, /not this cluster's/);
    assert.ok(!(await Deno.stat(path.join(clusterDir(home, "rs"), "deploy")).catch(() => false)));
  } finally {
    await killAll(home);
  }
});

Deno.test("sharded 6.0 → 7.0, cut off and planned again: balancer stopped first and started last, config servers, shards one after another, then mongos; FCV through mongos", async () => {
  const home = await tempHome();
  const ports = stablePorts(4);
  const mirror = await testMirror();
  const up = (v: string, ...extra: string[]) =>
    upgrade("sh", v, ...extra).map((a) => a === "" ? mirror : a);
  try {
    // A hook that fails once the balancer is stopped cuts the upgrade off there.
    const hook =
      `hooks:\n  after_phase:\n    command: '[ "$MUP_PHASE" != stop-balancer ] || exit 3'\n`;
    await deploy60(home, "sh", smallShardedTopology(ports, hook));
    const cut = await ok(home, [...up("7.0", "--set-fcv"), "--auto-approve"], 1);
    // The hint makes the same plan again: the FCV raise and the mirror kept.
    const hint = /`mup (cluster upgrade sh --version 7\.0\.\d+ [^`]*--no-hooks)`/.exec(cut.stdout);
    assert.ok(hint, output(cut));
    assert.ok(hint[1].endsWith(` --set-fcv --mirror ${path.resolve(mirror)} --no-hooks`), hint[1]);
    // display says who stopped the balancer; planning the upgrade again starts it at the end
    // (one stopped by hand would stay off). Exit 1: the upgrade is unfinished.
    const shown = await ok(home, ["cluster", "display", "sh"], 1);
    assert.match(
      shown.stdout,
      /Balancer: off \(stopped by the upgrade of apply \S+: `mup plan resume sh` or the next/,
    );
    // Superseded by another apply (a restart of the mongos), a resume no longer continues it;
    // that plan says the balancer stays off (tester68).
    const restart = ["cluster", "restart", "sh", "-R", "mongos", "--no-hooks"];
    assert.match(
      (await ok(home, [...restart, "--plan-only"])).stdout,
      /replaces that upgrade[\s\S]*The balancer it stopped stays off after this plan/,
    );
    await ok(home, [...restart, "--auto-approve"]);
    assert.match(
      (await ok(home, ["cluster", "display", "sh"])).stdout,
      /Balancer: off \(stopped by the upgrade of apply \S+: the next upgrade starts it again; without one, `mup cluster upgrade sh --version 6\.0\.\d+`, the release it runs, starts only the balancer\)/,
    );
    // Another upgrade, cut off by the hook right after its balancer phase: it takes the record
    // over, and display names it, with its resume (tester85: it named the first upgrade).
    await ok(home, [...up("7.0", "--set-fcv"), "--auto-approve"], 1);
    const second = (await currentState(home, "sh")).state_id;
    assert.equal(
      ((await meta(home, "sh")) as { balancer_stopped_by?: { state_id: string } })
        .balancer_stopped_by?.state_id,
      second,
    );
    assert.match(
      (await ok(home, ["cluster", "display", "sh"], 1)).stdout,
      new RegExp(
        `Balancer: off \\(stopped by the upgrade of apply ${second}: \`mup plan resume sh\``,
      ),
    );
    // The upgrade to the release it runs, as display says, starts only the balancer.
    const same = String((await meta(home, "sh")).version);
    const only = await ok(home, [...up(same), "--auto-approve", "--json", "--no-hooks"]);
    const ran = only.stdout.split("\n").flatMap((l) => {
      try {
        const e = JSON.parse(l);
        return e.event === "op_done" ? [String(e.id)] : [];
      } catch {
        return [];
      }
    });
    assert.ok(ran.includes("start-balancer"), ran.join(", "));
    assert.ok(!ran.some((id) => id.startsWith("stop-")), ran.join(", "));
    assert.match((await ok(home, ["cluster", "display", "sh"])).stdout, /Balancer: on\n/);
    const r = await ok(home, [...up("7.0", "--set-fcv"), "--auto-approve", "--json", "--no-hooks"]);
    const order = r.stdout.split("\n").flatMap((l) => {
      try {
        const e = JSON.parse(l);
        return e.event === "op_done" ? [String(e.id)] : [];
      } catch {
        return [];
      }
    });
    const at = (id: string) => order.indexOf(id);
    assert.ok(at("stop-balancer") >= 0, `ran: ${order.join(", ")}`);
    const starts = order.filter((id) => id.startsWith("start-") && id !== "start-balancer");
    assert.deepEqual(
      starts.map((id) => id.split("-")[1]),
      ["config", "mongod", "mongod", "mongos"],
      `config servers, then shards, then mongos: ${starts.join(", ")}`,
    );
    assert.ok(at("stop-balancer") < at(starts[0]) && at(starts[3]) < at("start-balancer"));
    // The release is recorded before the FCV is raised: cut off between them, the metadata
    // already names the binaries the members run.
    assert.ok(
      at("start-balancer") < at("update-metadata") && at("update-metadata") < at("set-fcv"),
    );
    const to = String((await meta(home, "sh")).version);
    const now = await reported(home, "sh", ports, [ports[3]]);
    assert.ok(now.every((p) => p.version === to), JSON.stringify(now));
    assert.deepEqual(now.map((p) => p.fcv), ["7.0", "7.0", "7.0", undefined]);
    const c = await adminClient(home, "sh", ports[3]);
    try {
      const status = await c.db("admin").command({ balancerStatus: 1 });
      assert.equal(status.mode, "full", "the balancer runs again");
      // A balancer the operator stopped stays stopped: the next upgrade neither stops nor
      // starts it, and says so.
      await c.db("admin").command({ balancerStop: 1 });
      const next = JSON.parse((await ok(home, [...up("8.0"), "--plan-only", "--json"])).stdout);
      const ops = next.plan.phases.flatMap((ph: { operations: { type: string }[] }) =>
        ph.operations.map((o) => o.type)
      );
      assert.ok(ops.includes("start_process") && !ops.includes("set_balancer"), ops.join(","));
      // The install changes no process: it comes before the status is marked as changing.
      assert.deepEqual(
        next.plan.phases.slice(0, 2).map((ph: { name: string }) => ph.name),
        ["install", "prepare"],
      );
      assert.ok(
        next.plan.validation.warnings.some((w: { code: string }) => w.code === "balancer_off"),
      );
      // Members that disagree on the FCV (a setFeatureCompatibilityVersion cut short): refused.
      const shard = await adminClient(home, "sh", ports[1]);
      try {
        await shard.db("admin").command({ setFeatureCompatibilityVersion: "6.0", confirm: true });
      } finally {
        await shard.close();
      }
      const split = await ok(home, [...up("8.0"), "--plan-only"], 1);
      assert.match(
        split.stdout + split.stderr,
        /report different feature compatibility versions \(6\.0 on mongod-/,
      );
      // display names each value with the members that report it.
      assert.match(
        (await ok(home, ["cluster", "display", "sh"])).stdout,
        new RegExp(
          `feature compatibility 6\\.0 on localhost:${ports[1]}; 7\\.0 on localhost:\\d+, ` +
            "localhost:\\d+ \\(`mup cluster upgrade sh --version 7\\.0\\.\\d+ --set-fcv` raises it",
        ),
      );
    } finally {
      await c.close();
    }
  } finally {
    await killAll(home);
  }
});

Deno.test("a saved upgrade plan applied after the FCV was set down stops before the member's stop (the new binary would refuse the data); with the FCV back, plan resume upgrades it", async () => {
  const home = await tempHome();
  const [port] = stablePorts(1);
  const mirror = await testMirror();
  try {
    await deploy60(home, "one", `mongod_servers:\n  - { host: localhost, port: ${port} }\n`);
    await ok(home, [...upgrade("one", "7.0").map((a) => a === "" ? mirror : a), "--plan-only"]);
    const setFcv = async (v: string) => {
      const c = await adminClient(home, "one", port);
      try {
        await c.db("admin").command({ setFeatureCompatibilityVersion: v });
      } finally {
        await c.close();
      }
    };
    await setFcv("5.0");
    const r = await ok(home, ["plan", "apply", "one", "--auto-approve"], 1);
    assert.match(
      r.stdout + r.stderr,
      /is at feature compatibility version 5\.0, which mongod 7\.0 does not start on/,
    );
    // The failure says there is no way back in mup, only forward.
    assert.match(
      r.stdout,
      /An upgrade is not rolled back: members it restarted run 7\.0\.\d+ now, and going back to the old release is a downgrade, which mup cannot do yet/,
    );
    assert.deepEqual((await reported(home, "one", [port])).map((p) => p.version.slice(0, 4)), [
      "6.0.",
    ]);
    await setFcv("6.0");
    const resumed = await ok(home, ["plan", "resume", "one"]);
    assert.match(resumed.stdout, /completed successfully/, output(resumed));
    assert.deepEqual((await reported(home, "one", [port])).map((p) => p.version.slice(0, 4)), [
      "7.0.",
    ]);
  } finally {
    await killAll(home);
  }
});

Deno.test("an upgrade cut off after it recorded the new release (at its FCV step): other plans do not claim the metadata lacks the release; plan resume raises the FCV", async () => {
  const home = await tempHome();
  const [port] = stablePorts(1);
  const mirror = await testMirror();
  const release = `${home}/release`;
  try {
    // The FCV step waits (until released) once the release is recorded: mup is killed there.
    await deploy60(
      home,
      "one",
      `mongod_servers:\n  - { host: localhost, port: ${port} }\nhooks:\n  before_operation:\n    command: >-\n      [ "$MUP_OPERATION_ID" = set-fcv ] || exit 0;\n      while [ ! -e '${release}' ]; do sleep 0.05; done\n`,
    );
    // A restart applied on 6.0: its plan, once the cluster is upgraded, is history.
    await ok(home, ["cluster", "restart", "one", "--auto-approve"]);
    await killWhen(
      home,
      "one",
      [...upgrade("one", "7.0").map((a) => a === "" ? mirror : a), "--set-fcv", "--auto-approve"],
      /^set-fcv$/,
      "running",
    );
    await Deno.writeTextFile(release, "");
    assert.match(String((await meta(home, "one")).version), /^7\.0\./);
    const restart = await ok(home, ["cluster", "restart", "one", "--plan-only"]);
    assert.doesNotMatch(restart.stdout, /which the metadata does not name yet/, restart.stdout);
    const resumed = await ok(home, ["plan", "resume", "one"]);
    assert.match(resumed.stdout, /completed successfully/, output(resumed));
    // The restart's plan, applied before the upgrade, points at the release it runs now.
    const plans = JSON.parse((await ok(home, ["plan", "list", "one", "--json"])).stdout) as {
      plan_id: string;
      operation: string;
      status: string;
    }[];
    const restarted = plans.find((p) => p.operation === "restart" && p.status === "applied");
    assert.ok(restarted, JSON.stringify(plans));
    const diff = await ok(home, ["plan", "diff", restarted.plan_id]);
    const now = String((await meta(home, "one")).version);
    assert.match(diff.stdout, new RegExp(`--version ${now.replaceAll(".", "\\.")} --plan-only`));
  } finally {
    await killAll(home);
  }
});

Deno.test("an upgrade to a series that no longer knows an option of the cluster's runtime_config is refused before anything stops, naming the option", async () => {
  const home = await tempHome();
  try {
    const [port] = stablePorts(1);
    // Valid on 6.0: storage.journal.enabled went in 6.1 (journaling is always on).
    await deploy60(
      home,
      "jn",
      `global:\n  runtime_config: { storage.journal.enabled: true }\n` +
        `mongod_servers:\n  - { host: localhost, port: ${port} }\n`,
    );
    const mirror = await testMirror();
    const r = await ok(
      home,
      [...upgrade("jn", "7.0").map((a) => a === "" ? mirror : a), "--auto-approve"],
      1,
    );
    assert.match(
      r.stdout + r.stderr,
      /runtime_config of cluster jn sets storage\.journal\.enabled, which 7\.0\.\d+ no longer knows \(not a mongod 7\.0\.\d+ option \(removed in 6\.1\)/,
    );
    assert.match(
      r.stdout + r.stderr,
      /`mup cluster show-config jn > \S+\/jn\.recorded\.yaml`, delete it there, `mup cluster reconfigure jn \S+\/jn\.recorded\.yaml`; then upgrade/,
    );
    assert.doesNotMatch(r.stdout, /Stop |Phases:/, "nothing is planned");
    assert.deepEqual((await reported(home, "jn", [port])).map((p) => p.version), ["6.0.19"]);
  } finally {
    await killAll(home);
  }
});
