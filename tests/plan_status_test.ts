/** Plans that fail pre-flight are shown, not stored; `plan list` gives every plan's status. */
import assert from "node:assert/strict";
import * as path from "node:path";
import {
  deployArgs,
  freePorts,
  killAll,
  mup,
  output,
  shardedTopology,
  standaloneTopology,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { clusterDir } from "./apply_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

const exists = (p: string) => Deno.stat(p).then(() => true, () => false);

async function statuses(home: string): Promise<Record<string, string>> {
  const r = await mup(["plan", "list", "c1", "--json"], { home });
  assert.equal(r.code, 0, output(r));
  // Every plan of these tests is a deploy: the list names what each plan does.
  for (const e of JSON.parse(r.stdout)) assert.equal(e.operation, "deploy", r.stdout);
  return Object.fromEntries(
    JSON.parse(r.stdout).map((e: { plan_id: string; status: string }) => [e.plan_id, e.status]),
  );
}

Deno.test("a plan that fails pre-flight is shown with its errors and not stored (no cluster directory); --plan-file writes it marked invalid", async () => {
  const home = await tempHome();
  const mirror = await testMirror();
  const ports = freePorts(1);
  const topo = await writeTopology(home, "c1.yaml", standaloneTopology(ports));
  const squatter = Deno.listen({ hostname: "127.0.0.1", port: ports[0] });
  try {
    const planOnly = await mup(deployArgs("c1", topo, mirror, ["--plan-only"]), { home });
    assert.equal(planOnly.code, 1, planOnly.stdout + planOnly.stderr);
    assert.match(planOnly.stdout, new RegExp(`✗ ports already in use: localhost:${ports[0]}`));
    assert.match(planOnly.stdout, /✗ Plan plan-\w+ is not valid; it was not stored\./);
    assert.match(planOnly.stdout, /Validation: ✗ Plan is not valid/);
    // Its ID and hash are shown, but no command takes them (tester98 #6).
    assert.match(planOnly.stdout, /^Plan ID: plan-\w+ \(not stored: no command takes it\)$/m);
    assert.match(planOnly.stdout, /^Content hash: \S+ \(not stored\)$/m);
    assert.doesNotMatch(planOnly.stdout, /Plan saved to|To apply it/);

    const deploy = await mup(deployArgs("c1", topo, mirror, ["--auto-approve"]), { home });
    assert.equal(deploy.code, 1, output(deploy));
    assert.match(deploy.stdout, /Pre-flight checks failed/);
    // And on stderr, for a script that keeps only that (tester53).
    assert.match(
      deploy.stderr,
      new RegExp(
        `^Error: plan plan-\\w+ is not valid \\(1 pre-flight error\\):\n  • ports already in use: localhost:${
          ports[0]
        }`,
      ),
    );

    const json = await mup(deployArgs("c1", topo, mirror, ["--plan-only", "--json"]), { home });
    assert.equal(json.code, 1, output(json));
    const doc = JSON.parse(json.stdout);
    assert.equal(doc.valid, false);
    assert.equal(doc.stored, false);
    assert.equal(doc.path, undefined);
    assert.match(doc.errors[0].message, /ports already in use/);
    // The hint may not send anyone to `plan show` of a plan that was not kept.
    assert.doesNotMatch(doc.hint, new RegExp(doc.plan_id));
    assert.match(doc.hint, /`checks` lists them \(the plan was not stored\)/);

    assert.equal(await exists(clusterDir(home, "c1")), false, "no cluster directory");
    const list = await mup(["plan", "list"], { home });
    assert.match(list.stdout, /No saved plans\./);

    const file = path.join(home, "asked.json");
    const asked = await mup(deployArgs("c1", topo, mirror, ["--plan-file", file]), { home });
    assert.equal(asked.code, 1, output(asked));
    assert.match(asked.stdout, new RegExp(`Written, marked invalid, to: ${file}`));
    const written = JSON.parse(await Deno.readTextFile(file));
    assert.equal(written.validation.valid, false);
    assert.equal(await exists(clusterDir(home, "c1")), false, "still no cluster directory");
    const validate = await mup(["plan", "validate", file], { home });
    assert.equal(validate.code, 1, output(validate));
    assert.match(validate.stdout, /plan is not valid/);
  } finally {
    squatter.close();
  }
});

Deno.test("a long review of an invalid plan says how to list all of it: --plan-file, not the dry run's advice (tester101 #1)", async () => {
  const home = await tempHome();
  const ports = freePorts(10);
  const topo = await writeTopology(home, "big.yaml", shardedTopology(ports));
  const squatter = Deno.listen({ hostname: "127.0.0.1", port: ports[9] });
  try {
    const r = await mup(deployArgs("big", topo, await testMirror(), ["--plan-only"]), { home });
    assert.equal(r.code, 1, output(r));
    assert.match(r.stdout, /… \d+ more \(an invalid plan is not stored: --plan-file F writes it/);
    assert.doesNotMatch(r.stdout, /a dry run saves no plan/);
  } finally {
    squatter.close();
  }
});

Deno.test("plan list shows each plan's status: invalid, superseded, valid, modified, applied, stale, resumable", async () => {
  const home = await tempHome();
  const mirror = await testMirror();
  const ports = freePorts(1);
  const topo = await writeTopology(home, "c1.yaml", standaloneTopology(ports));
  try {
    // An invalid plan, written with --plan-file and imported (import accepts pre-flight errors).
    const file = path.join(home, "invalid.json");
    const squatter = Deno.listen({ hostname: "127.0.0.1", port: ports[0] });
    await mup(deployArgs("c1", topo, mirror, ["--plan-file", file]), { home });
    squatter.close();
    const imported = await mup(["plan", "import", "--json"], {
      home,
      stdin: await Deno.readTextFile(file),
    });
    assert.equal(imported.code, 0, imported.stdout + imported.stderr);
    const bad = JSON.parse(imported.stdout).imported;
    assert.equal(JSON.parse(imported.stdout).invalid, true);
    // Imported again without --json (deleted first), it says so (tester60).
    assert.equal((await mup(["plan", "delete", bad], { home })).code, 0);
    const said = await mup(["plan", "import", file], { home });
    assert.equal(said.code, 0, said.stdout + said.stderr);
    assert.match(
      said.stdout,
      /Warning: it failed pre-flight when it was made .*plan apply refuses/,
    );

    const plan = async () => {
      const r = await mup(deployArgs("c1", topo, mirror, ["--plan-only", "--json"]), { home });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      return JSON.parse(r.stdout).plan_id as string;
    };
    const first = await plan();
    assert.deepEqual(await statuses(home), { [bad]: "invalid", [first]: "valid" });
    // Not applied: every operation of it is left to run.
    const diff = await mup(["plan", "diff", first, "--json"], { home });
    const rows = JSON.parse((await mup(["plan", "list", "c1", "--json"], { home })).stdout);
    assert.equal(
      JSON.parse(diff.stdout).operations_left,
      rows.find((e: { plan_id: string }) => e.plan_id === first).operations,
      output(diff),
    );
    const second = await plan();
    assert.deepEqual(await statuses(home), {
      [bad]: "invalid",
      [first]: "superseded",
      [second]: "valid",
    });

    // A plan file edited after mup wrote it is listed as such, above every other status.
    const firstFile = path.join(clusterDir(home, "c1"), "plans", `${first}.json`);
    const sealed = await Deno.readTextFile(firstFile);
    await Deno.writeTextFile(
      firstFile,
      sealed.replace('"operation": "deploy"', '"operation":  "deploy"'),
    );
    assert.equal((await statuses(home))[first], "modified");
    const listed = await mup(["plan", "list", "c1"], { home });
    assert.match(listed.stdout, new RegExp(`${first} +c1 +deploy +\\S+ +\\d+ +modified`));
    assert.match(listed.stdout, /modified: .*was edited after mup wrote it/);
    await Deno.writeTextFile(firstFile, sealed);

    const applied = await mup(["plan", "apply", second, "--auto-approve"], { home });
    assert.equal(applied.code, 0, applied.stdout + applied.stderr);
    // The apply changed the cluster: the plan made before it can no longer be applied.
    assert.deepEqual(await statuses(home), {
      [bad]: "invalid",
      [first]: "stale",
      [second]: "applied",
    });
    // validate and show say beside "valid" that apply refuses them now (tester43).
    const stale = await mup(["plan", "validate", first], { home });
    assert.equal(stale.code, 0, output(stale));
    assert.match(stale.stdout, /! apply refuses it now \(plan list: stale\): Saved plan is stale/);
    assert.match(stale.stdout, /plan is valid, but apply refuses it now \(plan list: stale\)/);
    const staleJson = JSON.parse(
      (await mup(["plan", "validate", first, "--json"], { home })).stdout,
    );
    assert.deepEqual([staleJson.valid, staleJson.applicable, staleJson.reason], [
      true,
      false,
      "stale",
    ]);
    // plan show --json prints the plan document alone; the note goes to stderr (tester84).
    const shownJson = await mup(["plan", "show", first, "--json"], { home });
    assert.equal(shownJson.code, 0, output(shownJson));
    assert.equal(JSON.parse(shownJson.stdout).plan_id, first);
    assert.match(shownJson.stderr, /Note: apply refuses it now \(plan list: stale\)/);
    // A CI gate asks for an applicable plan: the stale one fails it, the applied one passes
    // (its apply has nothing left to do) (tester72).
    const gate = await mup(["plan", "validate", first, "--applicable"], { home });
    assert.equal(gate.code, 1, output(gate));
    assert.match(gate.stdout, /plan is valid, but apply refuses it now \(plan list: stale\)/);
    const done = await mup(["plan", "validate", second, "--applicable"], { home });
    assert.equal(done.code, 0, output(done));
    assert.match(
      (await mup(["plan", "show", second], { home })).stdout,
      new RegExp(
        `Note: apply has nothing left to do \\(plan list: applied\\): plan ${second} was applied already`,
      ),
    );
    // A running cluster that matches its topology plans "no changes"; with its process gone, the
    // repair is a plan again.
    await killAll(home);
    while (
      await Deno.connect({ hostname: "127.0.0.1", port: ports[0] }).then(
        (c) => (c.close(), true),
        () => false,
      )
    ) await new Promise((r) => setTimeout(r, 50));
    const third = await plan();
    const table = await mup(["plan", "list", "c1"], { home });
    assert.match(table.stdout, /PLAN ID +CLUSTER +OPERATION +CREATED +OPS +STATUS/);
    assert.match(table.stdout, new RegExp(`${third} +c1 +deploy +\\S+ +\\d+ +valid`));
    assert.match(table.stdout, new RegExp(`${second} +c1 +deploy +\\S+ +\\d+ +applied`));
    assert.match(table.stdout, new RegExp(`${first} +c1 +deploy +\\S+ +\\d+ +stale`));
    assert.match(table.stdout, new RegExp(`${bad} +c1 +deploy +\\S+ +\\d+ +invalid`));
    // An apply of it that fails part way leaves it resumable (not stale, whatever it recorded).
    const failed = await mup(["plan", "apply", third, "--auto-approve"], {
      home,
      env: { MUP_SIM_CRASH_AT_STARTUP: "14", MUP_SIM_FAULT_PORTS: String(ports[0]) },
    });
    assert.equal(failed.code, 1, failed.stdout + failed.stderr);
    assert.equal((await statuses(home))[third], "resumable");
  } finally {
    await killAll(home);
  }
});

Deno.test("a saved plan whose port another cluster has since taken is listed blocked, naming it; plan diff refuses it as apply does; once that cluster is gone it is valid again", async () => {
  const home = await tempHome();
  const mirror = await testMirror();
  const ports = freePorts(1);
  const topo = await writeTopology(home, "c1.yaml", standaloneTopology(ports));
  try {
    const planned = await mup(deployArgs("c1", topo, mirror, ["--plan-only", "--json"]), {
      home,
    });
    assert.equal(planned.code, 0, output(planned));
    const saved = JSON.parse(planned.stdout).plan_id as string;
    // c1 was never deployed, so nothing of it is claimed: c2 may take the same port.
    const other = await mup(deployArgs("c2", topo, mirror, ["--auto-approve"]), { home });
    assert.equal(other.code, 0, output(other));

    assert.deepEqual(await statuses(home), { [saved]: "blocked" });
    const json = JSON.parse((await mup(["plan", "list", "c1", "--json"], { home })).stdout);
    assert.match(json[0].clashes.join("\n"), new RegExp(`cluster c2 .*${ports[0]}`));
    const table = await mup(["plan", "list"], { home });
    assert.match(table.stdout, new RegExp(`${saved} +c1 +deploy +\\S+ +\\d+ +blocked`));
    assert.match(table.stdout, /blocked: plan \S+ would take what another cluster holds/);
    assert.match(table.stdout, new RegExp(`• .*cluster c2 .*${ports[0]}`));

    const validated = await mup(["plan", "validate", saved], { home });
    assert.equal(validated.code, 0, output(validated));
    assert.match(
      validated.stdout,
      /! apply refuses it now \(plan list: blocked\): plan \S+ would take what another cluster holds/,
    );
    // Planned now, the clash is a pre-flight error: shown, not stored, and --plan-file still
    // writes the plan, marked invalid (tester46).
    const file = path.join(home, "c3.json");
    const clashing = await mup(deployArgs("c3", topo, mirror, ["--plan-file", file]), { home });
    assert.equal(clashing.code, 1, output(clashing));
    assert.match(
      clashing.stdout.replace(/\s+/g, " "),
      new RegExp(`cluster c3 would take what another cluster holds: .*cluster c2`),
    );
    // The busy port's line names the cluster too, beside its holder (tester51).
    assert.match(
      clashing.stdout.replace(/\s+/g, " "),
      new RegExp(
        `ports already in use: localhost:${ports[0]} \\(held by [^)]*\\)+, recorded by cluster c2`,
      ),
    );
    const written = JSON.parse(await Deno.readTextFile(file));
    assert.equal(written.validation.valid, false);
    assert.ok(
      written.validation.errors.some((e: { code: string }) =>
        e.code === "claimed_by_other_cluster"
      ),
      JSON.stringify(written.validation),
    );
    assert.equal(await exists(path.join(home, "storage", "clusters", "c3")), false);
    for (const args of [["plan", "diff", saved], ["plan", "apply", saved, "--auto-approve"]]) {
      const r = await mup(args, { home });
      assert.equal(r.code, 1, output(r));
      assert.match(
        r.stdout + r.stderr,
        new RegExp(`plan ${saved} would take what another cluster holds:[^]*cluster c2`),
      );
    }

    const gone = await mup(["cluster", "destroy", "c2", "--auto-approve"], { home });
    assert.equal(gone.code, 0, output(gone));
    assert.deepEqual(await statuses(home), { [saved]: "valid" });
  } finally {
    await killAll(home);
  }
});

Deno.test("a saved plan whose data directory holds what another cluster's destroy --retain-data kept is blocked, and apply refuses it before anything starts; the kept data stays", async () => {
  const home = await tempHome();
  const mirror = await testMirror();
  const [pk, pl] = freePorts(2);
  const data = path.join(home, "kept-data");
  const on = (port: number) =>
    `mongod_servers:\n  - { host: localhost, port: ${port}, data_dir: ${data} }\n`;
  const fileK = await writeTopology(home, "k.yaml", on(pk));
  const fileL = await writeTopology(home, "l.yaml", on(pl));
  try {
    const planned = await mup(deployArgs("cl", fileL, mirror, ["--plan-only", "--json"]), {
      home,
    });
    assert.equal(planned.code, 0, output(planned));
    const saved = JSON.parse(planned.stdout).plan_id as string;
    const k = await mup(deployArgs("ck", fileK, mirror, ["--auto-approve"]), { home });
    assert.equal(k.code, 0, output(k));
    const gone = await mup(["cluster", "destroy", "ck", "--auto-approve", "--retain-data"], {
      home,
    });
    assert.equal(gone.code, 0, output(gone));

    const list = JSON.parse((await mup(["plan", "list", "cl", "--json"], { home })).stdout);
    assert.equal(list[0].status, "blocked", JSON.stringify(list));
    assert.match(
      list[0].clashes.join("\n"),
      new RegExp(
        `data directory ${data} holds the data \`mup cluster destroy ck --retain-data\` kept`,
      ),
    );
    const apply = await mup(["plan", "apply", saved, "--auto-approve"], { home });
    assert.equal(apply.code, 1, output(apply));
    assert.match(
      apply.stdout + apply.stderr,
      /would take what another cluster holds:[^]*deploy it as cluster ck/,
    );
    assert.doesNotMatch(apply.stdout, /Started mongod/);
    assert.ok(
      await exists(path.join(data, "mongod.lock")) ||
        (await Array.fromAsync(Deno.readDir(data))).length > 0,
      "the kept data is still there",
    );
  } finally {
    await killAll(home);
  }
});

Deno.test("plan diff of a cluster whose newest plan is an applied rollback has nothing left to do, after the earlier deploy applied again too (tester89)", async () => {
  const home = await tempHome();
  const mirror = await testMirror();
  const ports = freePorts(1);
  const topo = await writeTopology(home, "c1.yaml", standaloneTopology(ports));
  try {
    const run = async (args: string[], code = 0, env: Record<string, string> = {}) => {
      const r = await mup(args, { home, env });
      assert.equal(r.code, code, `${args.join(" ")}\n${output(r)}`);
      return r;
    };
    const planned = JSON.parse(
      (await run(deployArgs("c1", topo, mirror, ["--plan-only", "--json"]))).stdout,
    );
    // The first apply fails (the server exits at startup), and is rolled back to its start.
    await run(["plan", "apply", planned.plan_id, "--auto-approve"], 1, {
      MUP_SIM_CRASH_AT_STARTUP: "2",
      MUP_SIM_FAULT_PORTS: String(ports[0]),
    });
    await run(["state", "rollback", "c1", "--checkpoint", "start", "--auto-approve"]);
    // The rollback's plan is the newest made (the cluster's, for plan diff); the deploy, made
    // before it, is applied again. The rollback, applied, has nothing left to do: not "remove
    // everything" (its operations compared with the cluster deployed since).
    await run(["plan", "apply", planned.plan_id, "--auto-approve"]);
    const diff = await run(["plan", "diff", "c1", "--detailed-exitcode"]);
    assert.match(
      diff.stdout.replace(/\s+/g, " "),
      /\(rollback\) was applied \(apply apply-\S+, completed .*\): nothing of it is left to do\. To see what would change now, plan again \(e\.g\. `mup cluster deploy c1 /,
    );
    assert.doesNotMatch(diff.stdout, /remove/);
    const json = JSON.parse((await run(["plan", "diff", "c1", "--json"])).stdout);
    assert.equal(json.no_changes, true);
    assert.deepEqual(json.changes, []);
  } finally {
    await killAll(home);
  }
});
