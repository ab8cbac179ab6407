/**
 * A plan edited and sealed again (its content hash is then valid: it is no signature) must not
 * make mup write a server configuration other than the one it generates from the topology:
 * `plan validate`, `plan import` and `plan apply` refuse a generate_config whose content lost
 * its `security:` block or binds 0.0.0.0 (lib/plan/plan_configs.ts), naming the operation, the
 * process, the first differing line and the command that makes a new plan; for a recorded
 * cluster also when the plan's topology was edited along with it (auth off).
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { allOperations, type Plan, type PlannedOperation } from "../lib/plan/schema.ts";
import {
  deployArgs,
  freePorts,
  killAll,
  mup,
  output,
  planSharded,
  portFree,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { assertRefused, esc, reseal, standalone } from "./resealed.ts";
import { installFixture, tempDir } from "./fixture.ts";
import { display } from "./lifecycle_helpers.ts";

installFixture();

const configOp = (p: Plan): PlannedOperation =>
  allOperations(p).find((o) => o.type === "generate_config")!;

/** The generated configuration without its `security:` block (keyFile, authorization). */
function open(content: string): string {
  const out = content.replace(/\nsecurity:\n( {2}.*\n)+/, "\n");
  assert.notEqual(out, content, "the generated configuration has a security block");
  return out;
}

Deno.test("a plan whose configuration lost its security block (or binds 0.0.0.0) and was sealed again is refused by validate, import and apply; nothing starts", async () => {
  const home = await tempHome();
  const { plan } = await planSharded(home, freePorts(1), "c1", standalone);
  const dir = await tempDir("mup-open-");
  const o = configOp(plan);
  const line = o.target.params.content.split("\n").indexOf("security:") + 1;
  const text = reseal(plan, (p) => {
    const c = configOp(p);
    c.target.params.content = open(c.target.params.content);
  });
  const file = path.join(dir, "open.json");
  await Deno.writeTextFile(file, text);
  const names = [
    new RegExp(
      `operation ${esc(o.id)} \\(generate_config\\): parameter "content" is not the ` +
        `configuration mup generates for ${esc(o.target.name)} on localhost from this plan's ` +
        `topology: line ${line} is the end of the file, expected "security:"`,
    ),
    /make a new one with `mup cluster deploy c1 <topology>`/,
  ];

  assertRefused(await mup(["plan", "validate", file], { home }), "validate", ...names);
  const v = JSON.parse((await mup(["plan", "validate", file, "--json"], { home })).stdout);
  assert.equal(v.type, "error");
  const issue = v.issues.find((i: { code: string }) => i.code === "plan_config");
  assert.ok(issue, JSON.stringify(v));
  assert.match(issue.message, names[0]);

  const other = await tempHome();
  assertRefused(
    await mup(["plan", "import"], { home: other, stdin: text }),
    "import",
    /nothing was imported/,
    ...names,
  );
  const apply = await mup(["plan", "apply", file, "--auto-approve", "--json"], { home });
  assert.equal(apply.code, 1, output(apply));
  assert.match(JSON.parse(apply.stdout.trim().split("\n").at(-1)!).error, names[0]);
  assertRefused(await mup(["plan", "apply", file, "--auto-approve"], { home }), "apply", ...names);
  // Nothing was started or recorded for the cluster.
  const states = path.join(home, "storage", "clusters", "c1", "state");
  assert.deepEqual(await Array.fromAsync(Deno.readDir(states)).catch(() => []), []);

  // bindIp opened to every interface.
  const bound = path.join(dir, "bound.json");
  await Deno.writeTextFile(
    bound,
    reseal(plan, (p) => {
      const c = configOp(p);
      c.target.params.content = c.target.params.content.replace(/bindIp: .*/, "bindIp: 0.0.0.0");
    }),
  );
  assertRefused(
    await mup(["plan", "validate", bound], { home }),
    "bindIp",
    /line 4 is " {2}bindIp: 0\.0\.0\.0", expected " {2}bindIp: \\"127\.0\.0\.1\\""/,
  );

  // The plan as mup made it still passes validation and import (a plan of another store is
  // refused there for where it places the cluster: plan_paths_test).
  const ok = await mup(["plan", "validate", plan.plan_id], { home });
  assert.equal(ok.code, 0, output(ok));
  const original = await Deno.readTextFile(
    path.join(home, "storage", "clusters", "c1", "plans", `${plan.plan_id}.json`),
  );
  const imported = await mup(["plan", "import", "--json"], { home, stdin: original });
  assert.equal(imported.code, 0, output(imported));
  assert.equal(JSON.parse(imported.stdout).unchanged, true);
});

Deno.test("a repair plan of a recorded cluster whose topology and configuration were both turned to auth off and sealed again is refused against the metadata; the server is not started", async () => {
  const home = await tempHome();
  try {
    const topo = await writeTopology(home, "t.yaml", standalone(freePorts(1)));
    const mirror = await testMirror();
    const deployed = await mup(deployArgs("c1", topo, mirror, ["--auto-approve"]), { home });
    assert.equal(deployed.code, 0, output(deployed));
    const stopped = await mup(["cluster", "stop", "c1", "--auto-approve"], { home });
    assert.equal(stopped.code, 0, output(stopped));
    const dir = await tempDir("mup-open-");
    const file = path.join(dir, "repair.json");
    const planned = await mup(deployArgs("c1", topo, mirror, ["--plan-file", file]), { home });
    assert.equal(planned.code, 0, output(planned));
    const plan = JSON.parse(await Deno.readTextFile(file)) as Plan;
    const o = configOp(plan);
    // Consistent with itself: the plan's topology says auth off, its configuration has none.
    const forged = path.join(dir, "forged.json");
    await Deno.writeTextFile(
      forged,
      reseal(plan, (p) => {
        p.topology.global.security = { ...p.topology.global.security!, auth: false };
        const c = configOp(p);
        c.target.params.content = open(c.target.params.content);
      }),
    );
    const recorded = new RegExp(
      `cluster c1 as recorded in its metadata: operation ${esc(o.id)} \\(generate_config\\): ` +
        `parameter "content" is not the configuration mup generates for ${
          esc(o.target.name)
        } on localhost from the recorded topology: line \\d+ is the end of the file, ` +
        `expected "security:"`,
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
    assert.equal(
      (await display(home, "c1", 1)).processes[0].pid,
      undefined,
      "the server was started",
    );
    // The plan as mup made it validates.
    const ok = await mup(["plan", "validate", file], { home });
    assert.equal(ok.code, 0, output(ok));
  } finally {
    await killAll(home);
  }
});

Deno.test("a plan resealed with its topology's access control turned off, and its configuration to match, is shown with the topology's warning by validate and show", async () => {
  const home = await tempHome();
  const { plan } = await planSharded(home, freePorts(1), "c1", standalone);
  const text = reseal(plan, (p) => {
    p.topology.global.security!.auth = false;
    const op = configOp(p);
    op.target.params.content = open(op.target.params.content);
  });
  const file = path.join(await tempDir(), "open.json");
  await Deno.writeTextFile(file, text);
  const warning = /topology\.global\.security\.auth: access control is off: anyone who reaches/;
  const v = await mup(["plan", "validate", file], { home });
  assert.match(v.stdout, warning, output(v));
  const shown = await mup(["plan", "show", file], { home });
  assert.match(shown.stdout, warning, output(shown));
});

Deno.test("a deploy plan resealed without its admin user's creation is refused before anything runs, naming the operation (tester113 #2; before, tester43: it ran and failed its health check)", async () => {
  const home = await tempHome();
  try {
    const [port] = freePorts(1);
    const { plan } = await planSharded(home, [port], "nu", standalone);
    const user = allOperations(plan).find((o) => o.type === "create_user")!;
    const text = reseal(plan, (p) => {
      // Another ID: the store keeps the reviewed plan under its own.
      p.plan_id = "plan-0badc0de";
      for (const ph of p.phases) {
        ph.operations = ph.operations.filter((o) => o.id !== user.id);
        for (const o of ph.operations) o.depends_on = o.depends_on.filter((d) => d !== user.id);
      }
    });
    const file = path.join(home, "no-user.json");
    await Deno.writeTextFile(file, text);
    const missing = new RegExp(
      `the plan has no operation ${esc(user.id)} that creates the admin user \\(create_user`,
    );
    assertRefused(await mup(["plan", "validate", file], { home }), "validate", missing);
    const r = await mup(["plan", "apply", file, "--auto-approve"], { home });
    assertRefused(r, "apply", missing);
    assert.doesNotMatch(r.stdout, /completed successfully|Started mongod/);
    assert.ok(portFree(port), "nothing was started");
  } finally {
    await killAll(home);
  }
});
