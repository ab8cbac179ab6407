/**
 * A re-deploy onto the data `mup cluster destroy --retain-data` kept: the data holds the old
 * cluster's users, so the deploy reuses the secrets the destroy archived (and says so in its
 * plan); without them it refuses before anything starts, naming the data and what to do.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import {
  deployArgs,
  killAll,
  mup,
  output,
  replicaSetTopology,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { currentState, withClient } from "./apply_helpers.ts";
import { deploy, display, livePids, ok, stablePorts } from "./lifecycle_helpers.ts";
import { exists } from "./lifecycle_steps.ts";
import { installFixture } from "./fixture.ts";

installFixture();

Deno.test("re-deploy onto retained data reuses the archived secrets; without them it refuses up front", async () => {
  const home = await tempHome();
  const ports = stablePorts(4);
  try {
    // A fourth member, taken out with --retain-data before the destroy: its data is the
    // cluster's record through the destroy and the deploy onto the kept data.
    await deploy(
      home,
      "kept",
      replicaSetTopology(ports, `  - { host: localhost, port: ${ports[3]}, replica_set: rs0 }\n`),
    );
    await ok(home, [
      "cluster",
      "scale-in",
      "kept",
      "-N",
      `localhost:${ports[3]}`,
      "--retain-data",
      "--auto-approve",
    ]);
    const uri = (await display(home, "kept")).connection_string;
    await withClient(
      uri,
      (c) =>
        c.db("t").collection("k").insertOne({ _id: 1, v: "kept" } as never, {
          writeConcern: { w: "majority" },
        }),
      { home, cluster: "kept" },
    );
    const before = JSON.parse(
      (await ok(home, ["cluster", "credentials", "kept", "--json"])).stdout,
    );
    await ok(home, ["cluster", "destroy", "kept", "--auto-approve", "--retain-data"]);
    const archiveRoot = path.join(home, "storage", "archive");
    const [archived] = await Array.fromAsync(Deno.readDir(archiveRoot));
    const archive = path.join(archiveRoot, archived.name);
    assert.ok(await exists(path.join(archive, "secrets", "admin.json")));
    // cluster list still shows the cluster, and where its data is, until it is deployed again.
    const listed = JSON.parse((await ok(home, ["cluster", "list", "--json"])).stdout);
    assert.equal(listed.length, 1, JSON.stringify(listed));
    assert.equal(listed[0].name, "kept");
    assert.equal(listed[0].status, "destroyed, data kept");
    assert.equal(listed[0].last_apply.operation, "destroy");
    assert.equal(listed[0].data_kept.archive, archive);
    assert.equal(listed[0].data_kept.directories.length, 4);
    for (const d of listed[0].data_kept.directories) {
      assert.ok(await exists(d.slice(d.indexOf(":") + 1)), d);
    }
    const listText = (await ok(home, ["cluster", "list"])).stdout;
    assert.match(listText, /kept\s+replica_set\s+\S+\s+\S+\s+destroyed, data kept/);
    assert.match(listText, /kept: destroyed with --retain-data; its data is kept in localhost:/);
    // display says it was destroyed, where its data is and what deploys onto it (tester38).
    const gone = await ok(home, ["cluster", "display", "kept"], 1);
    const shownText = (gone.stdout + gone.stderr).replace(/\s+/g, " ");
    assert.match(
      shownText,
      /no deployed cluster named "kept": it was destroyed \(.*\), its data kept in localhost:\//,
    );
    assert.ok(
      shownText.includes("`mup cluster deploy kept <topology>` deploys it onto that data again"),
      shownText,
    );
    assert.ok(shownText.includes(path.join(archive, "plans")), shownText);
    // A second destroy has nothing to do, and says where the kept data is and how it goes.
    const twice = await ok(home, ["cluster", "destroy", "kept", "--auto-approve"]);
    assert.match(twice.stdout, /Nothing to do: cluster kept is already destroyed/);
    assert.match(twice.stdout, /Its data was kept \(--retain-data\) in localhost:.*mongod-\d+/);
    assert.match(twice.stdout, /to remove it, `rm -rf \/\S+mongod-\d+( \/\S+){3}`/);

    // Without the archived secrets: refused before anything starts, naming the data and the fix.
    const aside = path.join(home, "aside");
    await Deno.rename(archive, aside);
    const file = await writeTopology(home, "kept.yaml", replicaSetTopology(ports));
    const mirror = await testMirror();
    const refused = await mup(deployArgs("kept", file, mirror, ["--auto-approve"]), { home });
    assert.equal(refused.code, 1, refused.stdout + refused.stderr);
    const said = refused.stdout + refused.stderr;
    assert.match(said, /data directory .*mongod-\d+ holds MongoDB data/);
    assert.match(said, /no archive of cluster kept in .*archive holds the secrets/);
    assert.match(said, /`mup cluster destroy kept --retain-data`/);
    assert.match(said, /remove the data first: `rm -rf .*mongod-\d+`/);
    assert.deepEqual(await livePids(home, "kept"), [], "nothing was started");
    assert.ok(!(await exists(path.join(home, "storage", "clusters", "kept", "meta.yaml"))));
    await Deno.rename(aside, archive);
    // With the archive but not its admin.json: the password is what is named missing, with
    // the way to write it back (tester52).
    const adminFile = path.join(archive, "secrets", "admin.json");
    await Deno.rename(adminFile, path.join(home, "admin.aside"));
    const noAdmin = await mup(deployArgs("kept", file, mirror, ["--plan-only"]), { home });
    assert.equal(noAdmin.code, 1, output(noAdmin));
    const noAdminSaid = noAdmin.stdout + noAdmin.stderr;
    assert.ok(
      noAdminSaid.includes(
        `${adminFile} (the admin password its users were created with) is ` +
          "missing or cannot be read",
      ),
      noAdminSaid,
    );
    assert.match(noAdminSaid, /write it with the password you know \(`\{"format_version":1,/);
    await Deno.rename(path.join(home, "admin.aside"), adminFile);

    // With them: the plan says the secrets are reused, the deploy completes, the data and the
    // password are the old ones.
    const plan = await ok(home, deployArgs("kept", file, mirror, ["--plan-only"]));
    assert.match(plan.stdout, /retained data/i);
    // Estimated from what the destroyed cluster measured on these hosts (its archive keeps its
    // history), not from the built-in defaults (tester52).
    assert.match(
      plan.stdout,
      /Estimates from: durations measured in \d+ earlier applies \(cluster kept\)/,
    );
    assert.match(plan.stdout, new RegExp(`Reuse the keyfile kept in ${archive}`));
    // Its diff creates none of the kept data directories, and says the set and its user may be
    // found in the kept data.
    const diff = await ok(home, ["plan", "diff", "kept"], 0);
    assert.doesNotMatch(diff.stdout, /directory +\S+\/data\/mongod-\d+ +\(create/, diff.stdout);
    assert.match(diff.stdout, /replica_set +rs0 +\(create; the kept data may hold it already/);
    assert.match(diff.stdout, /user +\S+@rs0 +\(create; the kept data may hold it already/);
    assert.ok(diff.stdout.includes(`(create; copied from ${archive}/secrets/`), diff.stdout);
    // Elections held back: the set, initiated in the kept data, has no primary yet when the
    // initiate's isDone looks, so its run finds the config, which is "already in place" too.
    // (3 s was not enough once, on a loaded machine: the members' starts took longer.)
    const again = await mup(deployArgs("kept", file, mirror, ["--auto-approve"]), {
      home,
      env: { MUP_SIM_ELECTION_DELAY_MS: "10000" },
    });
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, /✓ Initialized rs0 replica set \(already in place\)/);
    const init = (await currentState(home, "kept")).operation_states["init-rs-rs0"];
    assert.match(init.result?.output ?? "", /^already initiated \(config found on /);
    assert.deepEqual([init.executions, init.result?.changes], [0, []], "it initiated nothing");
    assert.match(again.stdout, /✓ MongoDB \S+ already downloaded \(in the local cache\)/);
    assert.doesNotMatch(again.stdout, /Downloaded MongoDB/);
    const after = JSON.parse((await ok(home, ["cluster", "credentials", "kept", "--json"])).stdout);
    assert.equal(after.password, before.password);
    const relisted = JSON.parse((await ok(home, ["cluster", "list", "--json"])).stdout);
    assert.deepEqual(relisted.map((r: { name: string; status: string }) => [r.name, r.status]), [
      ["kept", "running"],
    ]);
    const doc = await withClient(
      uri,
      (c) => c.db("t").collection("k").findOne({ _id: 1 } as never),
      { home, cluster: "kept" },
    );
    assert.equal(doc?.v, "kept");
    const shown = await display(home, "kept") as unknown as { retained_data?: { id: string }[] };
    assert.deepEqual(shown.retained_data?.map((r) => r.id), [`mongod-localhost-${ports[3]}`]);
    // A destroy of it removes its own secrets, not the copy the first destroy archived for the
    // data: the review says where that copy stays (tester52).
    const end = await ok(home, ["cluster", "destroy", "kept", "--plan-only"]);
    assert.ok(
      end.stdout.replace(/\s+/g, " ").includes(
        "not removed: a copy of cluster kept's secrets (keyfile, admin password) that an " +
          `earlier \`destroy --retain-data\` archived for the data it kept: ${archive}/secrets.`,
      ),
      end.stdout,
    );
  } finally {
    await killAll(home);
  }
});

/** A standalone `name` on `port`, deployed at 6.0; its topology file and the test mirror. */
async function standalone60(home: string, name: string, port: number) {
  const file = await writeTopology(
    home,
    `${name}.yaml`,
    `mongod_servers:\n  - { host: localhost, port: ${port} }\n`,
  );
  const mirror = await testMirror();
  await ok(home, deployArgs(name, file, mirror, ["--auto-approve"], "6.0"));
  return { file, mirror };
}

Deno.test("re-deploy onto retained data of another release: pre-flight refuses a release that cannot start on it (6.0 data, 8.0), the next release plans", async () => {
  const home = await tempHome();
  const [port] = stablePorts(1);
  try {
    const { file, mirror } = await standalone60(home, "old", port);
    await ok(home, ["cluster", "destroy", "old", "--auto-approve", "--retain-data"]);
    const far = await mup(deployArgs("old", file, mirror, ["--plan-only"], "8.0"), { home });
    assert.equal(far.code, 1, far.stdout + far.stderr);
    const said = far.stdout + far.stderr;
    assert.match(
      said,
      /holds data of MongoDB 6\.0\.\d+ at featureCompatibilityVersion 6\.0, deployed by cluster old/,
    );
    assert.match(said, /mongod 8\.0\.\d+ cannot start on it/);
    assert.match(said, /Deploy onto it with --version 6\.0 or 7\.0,/);
    assert.deepEqual(await livePids(home, "old"), [], "nothing was started");
    const next = await mup(deployArgs("old", file, mirror, ["--plan-only"], "7.0"), { home });
    assert.equal(next.code, 0, next.stdout + next.stderr);
  } finally {
    await killAll(home);
  }
});

Deno.test("retained data's FCV, not its binaries, decides the release deployed onto it: 7.0 binaries left at FCV 6.0 refuse 8.0, and 6.0 (the way back) starts on it; an FCV raised outside mup is what the destroy records", async () => {
  const home = await tempHome();
  const [port] = stablePorts(1);
  try {
    const { file, mirror } = await standalone60(home, "up", port);
    // Upgraded without --set-fcv: 7.0 binaries, data still at FCV 6.0.
    await ok(home, [
      "cluster",
      "upgrade",
      "up",
      "--version",
      "7.0",
      "--mirror",
      mirror,
      "--auto-approve",
    ]);
    await ok(home, ["cluster", "destroy", "up", "--auto-approve", "--retain-data"]);
    const far = await mup(deployArgs("up", file, mirror, ["--plan-only"], "8.0"), { home });
    assert.equal(far.code, 1, output(far));
    assert.match(
      far.stdout + far.stderr,
      /holds data of MongoDB 7\.0\.\d+ at featureCompatibilityVersion 6\.0, deployed by cluster up/,
    );
    const back = await ok(home, deployArgs("up", file, mirror, ["--auto-approve"], "6.0"));
    assert.match(back.stdout, /Deployment completed successfully/, output(back));
    const info = await withClient(
      `mongodb://127.0.0.1:${port}/?directConnection=true`,
      (c) => c.db("admin").command({ buildInfo: 1 }),
      { home, cluster: "up" },
    );
    assert.match(String(info.version), /^6\.0\./);

    // Upgraded again, and the FCV raised outside mup: the destroy records it as the member
    // reports it, so the way back to 6.0 is refused now.
    await ok(home, [
      "cluster",
      "upgrade",
      "up",
      "--version",
      "7.0",
      "--mirror",
      mirror,
      "--auto-approve",
    ]);
    await withClient(
      `mongodb://127.0.0.1:${port}/?directConnection=true`,
      (c) => c.db("admin").command({ setFeatureCompatibilityVersion: "7.0", confirm: true }),
      { home, cluster: "up" },
    );
    await ok(home, ["cluster", "destroy", "up", "--auto-approve", "--retain-data"]);
    const back2 = await mup(deployArgs("up", file, mirror, ["--plan-only"], "6.0"), { home });
    assert.equal(back2.code, 1, output(back2));
    assert.match(back2.stdout + back2.stderr, /at featureCompatibilityVersion 7\.0, deployed by/);
  } finally {
    await killAll(home);
  }
});

Deno.test("re-deploy onto retained data with other member options: the deploy sets them as the topology gives them (read when the set runs), so the metadata and a new plan match the set", async () => {
  const home = await tempHome();
  const ports = stablePorts(3);
  try {
    await deploy(home, "opts", replicaSetTopology(ports));
    await ok(home, ["cluster", "destroy", "opts", "--auto-approve", "--retain-data"]);
    // The kept configuration gives the first member priority 2; the new topology the third.
    const file = await writeTopology(
      home,
      "opts2.yaml",
      `mongod_servers:
  - { host: localhost, port: ${ports[0]}, replica_set: rs0 }
  - { host: localhost, port: ${ports[1]}, replica_set: rs0 }
  - { host: localhost, port: ${ports[2]}, replica_set: rs0, priority: 3 }
`,
    );
    const mirror = await testMirror();
    const again = await mup(deployArgs("opts", file, mirror, ["--auto-approve"]), { home });
    assert.equal(again.code, 0, output(again));
    assert.match(
      again.stdout,
      new RegExp(
        `! Set rs0 members' priority, votes and hidden as the topology gives them where its kept configuration differs: its kept configuration differed: set localhost:${
          ports[2]
        } \\(priority 1 → 3\\), localhost:${ports[0]} \\(priority 2 → 1\\)`,
      ),
    );
    const uri = (await display(home, "opts")).connection_string;
    const config = await withClient(
      uri,
      (c) => c.db("admin").command({ replSetGetConfig: 1 }),
      { home, cluster: "opts" },
    );
    assert.deepEqual(
      config.config.members.map((m: { priority: number }) => m.priority),
      [1, 1, 3],
    );
    // What the metadata records is what the set runs: nothing left to plan.
    const replan = await mup(deployArgs("opts", file, mirror, ["--plan-only"]), { home });
    assert.equal(replan.code, 0, output(replan));
    assert.match(replan.stdout, /No changes/);
  } finally {
    await killAll(home);
  }
});
