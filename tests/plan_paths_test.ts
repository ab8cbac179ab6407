/**
 * A plan edited and sealed again (its content hash is then valid: it is no signature) must not
 * make mup run or write anything but what the plan's own topology places: `plan validate`,
 * `plan import` and `plan apply` refuse paths outside its directories (lib/plan/plan_paths.ts),
 * and `plan show` names the binary and configuration each start runs.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { allOperations, type Plan } from "../lib/plan/schema.ts";
import {
  deployArgs,
  freePorts,
  mup,
  output,
  planSharded,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { assertRefused, esc, opOf, reseal, standalone } from "./resealed.ts";
import { installFixture, tempDir } from "./fixture.ts";

installFixture();

Deno.test("a plan whose binary was edited and sealed again is refused by validate, import and apply; the program never runs", async () => {
  const home = await tempHome();
  const { plan } = await planSharded(home, freePorts(1), "c1", standalone);
  const dir = await tempDir("mup-evil-");
  const marker = path.join(dir, "MARKER");
  const evil = path.join(dir, "evil.sh");
  await Deno.writeTextFile(evil, `#!/bin/sh\ntouch '${marker}'\n`);
  await Deno.chmod(evil, 0o755);
  const start = opOf(plan, "start_process");
  const binary = start.target.params.binary;
  const text = reseal(plan, (p) => opOf(p, "start_process").target.params.binary = evil);
  const file = path.join(dir, "resealed.json");
  await Deno.writeTextFile(file, text);
  const names = [
    new RegExp(
      `operation ${esc(start.id)} \\(start_process\\): parameter "binary" is "${esc(evil)}"`,
    ),
    new RegExp(`expected ${esc(binary)}`),
    /mup cluster deploy c1/,
  ];

  assertRefused(await mup(["plan", "validate", file], { home }), "validate", ...names);
  const v = JSON.parse((await mup(["plan", "validate", file, "--json"], { home })).stdout);
  assert.equal(v.type, "error");
  const issue = v.issues.find((i: { code: string }) => i.code === "plan_path");
  assert.ok(issue, JSON.stringify(v));
  assert.match(issue.message, names[0]);

  const other = await tempHome();
  const imp = await mup(["plan", "import"], { home: other, stdin: text });
  assertRefused(imp, "import", /nothing was imported/, ...names);
  const impJson = await mup(["plan", "import", "--json"], { home: other, stdin: text });
  assert.equal(impJson.code, 1, output(impJson));
  assert.match(JSON.parse(impJson.stdout.trim().split("\n").at(-1)!).error, names[0]);

  assertRefused(await mup(["plan", "apply", file, "--auto-approve"], { home }), "apply", ...names);
  const applyJson = await mup(["plan", "apply", file, "--auto-approve", "--json"], { home });
  assert.equal(applyJson.code, 1, output(applyJson));
  const last = JSON.parse(applyJson.stdout.trim().split("\n").at(-1)!);
  assert.equal(last.type, "error");
  assert.match(last.error, names[0]);
  assert.equal(await Deno.lstat(marker).then(() => true, () => false), false, "evil.sh ran");
  // Nothing was started or recorded for the cluster.
  const states = path.join(home, "storage", "clusters", "c1", "state");
  assert.deepEqual(await Array.fromAsync(Deno.readDir(states)).catch(() => []), []);

  // The plan as mup made it still passes here. Another store refuses it: it places the cluster
  // in this store's directories (its topology names no deploy_dir), where that store's apply,
  // and its destroy, would write and remove this store's files.
  const ok = await mup(["plan", "validate", plan.plan_id], { home });
  assert.equal(ok.code, 0, output(ok));
  const original = await Deno.readTextFile(
    path.join(home, "storage", "clusters", "c1", "plans", `${plan.plan_id}.json`),
  );
  const imported = await mup(["plan", "import", "--json"], { home: other, stdin: original });
  assert.equal(imported.code, 1, output(imported));
  const refusal = JSON.parse(imported.stdout.trim().split("\n").at(-1)!).error as string;
  assert.match(
    refusal,
    new RegExp(`the plan places cluster c1 in ${esc(plan.deploy_dir)}; this store keeps it in`),
  );
  assert.match(refusal, /make the plan with this MUP_HOME/);
  assert.deepEqual(
    await Array.fromAsync(Deno.readDir(path.join(other, "storage", "clusters"))).catch(() => []),
    [],
    "nothing stored in the other store",
  );
  // `plan validate` of the file there says so, as a warning.
  const file2 = path.join(dir, "original.json");
  await Deno.writeTextFile(file2, original);
  const there = await mup(["plan", "validate", file2], { home: other });
  assert.equal(there.code, 0, output(there));
  assert.match(
    there.stdout,
    /! the plan places cluster c1 in .*`plan import` and `plan apply` refuse it here/,
  );
});

Deno.test("other path parameters edited and sealed again are refused, naming the operation, parameter, path and where it belongs", async () => {
  const home = await tempHome();
  const { plan } = await planSharded(home, freePorts(1), "c1", standalone);
  const dir = await tempDir("mup-evil-");
  const root = plan.deploy_dir;
  const cases: [string, (p: Plan) => void, RegExp][] = [
    [
      "config",
      (p) => opOf(p, "start_process").target.params.config = path.join(dir, "x.conf"),
      new RegExp(
        `parameter "config" is "${esc(dir)}/x\\.conf", which is not inside .*${esc(root)}`,
      ),
    ],
    [
      "upload dest",
      (p) =>
        allOperations(p).find((o) => o.id.startsWith("upload-config-"))!.target.params.dest =
          `${root}/../../../.ssh/authorized_keys`,
      /\(upload_file\): parameter "dest" is ".*\/\.\.\/\.\.\/\.\.\/\.ssh\/authorized_keys", which is not inside/,
    ],
    [
      "create_directory",
      (p) => opOf(p, "create_directory").target.params.paths = JSON.stringify([dir]),
      new RegExp(`\\(create_directory\\): parameter "paths" is "${esc(dir)}"`),
    ],
    [
      "install dest_dir",
      (p) =>
        allOperations(p).find((o) => o.target.params.kind === "binaries")!.target.params
          .dest_dir = dir,
      new RegExp(`parameter "dest_dir" is "${esc(dir)}"; expected ${esc(root)}/bin/`),
    ],
    [
      "config content",
      (p) => {
        const o = opOf(p, "generate_config");
        o.target.params.content = o.target.params.content.replace(
          /path: .*mongod\.log/,
          `path: ${dir}/mongod.log`,
        );
      },
      new RegExp(
        `\\(generate_config\\): parameter "content: systemLog\\.path" is "${
          esc(dir)
        }/mongod\\.log"`,
      ),
    ],
    [
      "version",
      (p) => p.version = "../../../tmp",
      /version: "\.\.\/\.\.\/\.\.\/tmp" is not a MongoDB version/,
    ],
    [
      "topology data_dir",
      (p) => p.topology.mongod_servers[0].data_dir = "/etc",
      /topology\.mongod_servers\.0\.data_dir: data_dir \/etc is a system directory/,
    ],
  ];
  for (const [what, change, pattern] of cases) {
    const file = path.join(dir, `${what.replaceAll(" ", "-")}.json`);
    await Deno.writeTextFile(file, reseal(plan, change));
    assertRefused(await mup(["plan", "validate", file], { home }), what, pattern, /mup plan show/);
  }
  // Shown all the same, errors after it (exit 1): a plan apply refuses must still be readable.
  const last = path.join(dir, `${cases.at(-1)![0].replaceAll(" ", "-")}.json`);
  const shown = await mup(["plan", "show", last], { home });
  assertRefused(shown, "plan show", cases.at(-1)![2], /NOT VALID: apply and resume refuse/);
  assert.match(shown.stdout, /Operation: deploy[^]*NOT VALID[^]*data_dir \/etc is a system/);
  assert.match(shown.stderr, /^Error: plan .* is not valid \(\d+ errors?\)/);
  // --json: one document, the error's.
  const json = await mup(["plan", "show", last, "--json"], { home });
  assert.equal(json.code, 1);
  assert.equal(JSON.parse(json.stdout).type, "error");
});

Deno.test("plan show names the binary and the configuration file each start runs", async () => {
  const home = await tempHome();
  const { plan } = await planSharded(home, freePorts(1), "c1", standalone);
  const start = opOf(plan, "start_process");
  const show = await mup(["plan", "show", plan.plan_id], { home });
  assert.equal(show.code, 0, output(show));
  assert.match(
    show.stdout,
    new RegExp(
      `Runs ${esc(start.target.params.binary)} -f ${esc(start.target.params.config)} on localhost`,
    ),
  );
  // A deploy root with a space and `$(…)`: each path shown as one shell word, as pasted.
  const odd = await planSharded(
    home,
    freePorts(1),
    "c2",
    (p) => `global:\n  deploy_dir: "${home}/d $(touch x)"\n${standalone(p)}`,
  );
  const oddStart = opOf(odd.plan, "start_process").target.params;
  const oddShow = await mup(["plan", "show", odd.plan.plan_id], { home });
  assert.ok(
    oddShow.stdout.includes(`Runs '${oddStart.binary}' -f '${oddStart.config}' on localhost`),
    output(oddShow),
  );
  const download = opOf(plan, "download_binary").target.params;
  assert.match(
    show.stdout,
    new RegExp(`Downloads ${esc(download.url)} \\(sha256 ${download.sha256}\\) into `),
  );
  const json = JSON.parse((await mup(["plan", "show", plan.plan_id, "--json"], { home })).stdout);
  const shown = allOperations(json).find((o) => o.id === start.id)!;
  assert.equal(shown.target.params.binary, start.target.params.binary);
  assert.equal(shown.target.params.config, start.target.params.config);
});

Deno.test("a plan of a recorded cluster whose deploy root was moved with its paths and sealed again is refused: the program never runs", async () => {
  const home = await tempHome();
  const topo = await writeTopology(home, "t.yaml", standalone(freePorts(1)));
  const deployed = await mup(deployArgs("c1", topo, await testMirror(), ["--auto-approve"]), {
    home,
  });
  assert.equal(deployed.code, 0, output(deployed));
  const stopped = await mup(["cluster", "stop", "c1", "--auto-approve"], { home });
  assert.equal(stopped.code, 0, output(stopped));
  const dir = await tempDir("mup-evil-");
  const file = path.join(dir, "start.json");
  const planned = await mup(["cluster", "start", "c1", "--plan-file", file], { home });
  assert.equal(planned.code, 0, output(planned));
  const plan = JSON.parse(await Deno.readTextFile(file)) as Plan;
  // Every path of the plan moved to a directory of the attacker's, consistently: the plan's own
  // topology and deploy root say so too, and the binary there is theirs.
  const evilRoot = path.join(dir, "deploy");
  const moved = JSON.parse(JSON.stringify(plan).replaceAll(plan.deploy_dir, evilRoot)) as Plan;
  moved.topology.global.deploy_dir = evilRoot;
  const binary = opOf(moved, "start_process").target.params.binary;
  assert.ok(binary.startsWith(evilRoot), binary);
  const marker = path.join(dir, "MARKER");
  await Deno.mkdir(path.dirname(binary), { recursive: true });
  await Deno.writeTextFile(binary, `#!/bin/sh\ntouch '${marker}'\n`);
  await Deno.chmod(binary, 0o755);
  const forged = path.join(dir, "forged.json");
  await Deno.writeTextFile(forged, reseal(moved, () => {}));

  const recorded = new RegExp(
    `cluster c1 as recorded in its metadata: operation start-\\S+ \\(start_process\\): ` +
      `parameter "binary" is "${esc(binary)}"; expected ${esc(plan.deploy_dir)}/bin/`,
  );
  assertRefused(await mup(["plan", "validate", forged], { home }), "validate", recorded);
  assertRefused(
    await mup(["plan", "import"], { home, stdin: await Deno.readTextFile(forged) }),
    "import",
    recorded,
  );
  const apply = await mup(["plan", "apply", forged, "--auto-approve", "--json"], { home });
  assert.equal(apply.code, 1, output(apply));
  assert.match(JSON.parse(apply.stdout.trim().split("\n").at(-1)!).error, recorded);
  assert.equal(await Deno.lstat(marker).then(() => true, () => false), false, "the binary ran");
  // The plan as mup made it applies.
  const started = await mup(["plan", "apply", file, "--auto-approve"], { home });
  assert.equal(started.code, 0, output(started));
  assert.equal(await Deno.lstat(marker).then(() => true, () => false), false);
  const stop = await mup(["cluster", "stop", "c1", "--auto-approve"], { home });
  assert.equal(stop.code, 0, output(stop));
});
