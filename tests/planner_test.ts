import assert from "node:assert/strict";
import * as path from "node:path";
import { criticalPath, Dag, toDot } from "../lib/graph/mod.ts";
import { operationLabels, planToDag } from "../lib/plan/graph.ts";
import type { sealPlanText } from "../lib/plan/hash.ts";
import { allOperations, type Plan } from "../lib/plan/schema.ts";
import { checkPlanText } from "../lib/plan/validate.ts";
import { PlanStore } from "../lib/plan/store.ts";
import { renderPlan } from "../lib/render/plan_text.ts";
import { ROOT } from "./helpers.ts";
import { installFixture, tempDir } from "./fixture.ts";
import { sealedDeploy } from "./lifecycle_inputs.ts";

installFixture();

async function sealedFor(file: string): Promise<Sealed> {
  return await sealedFromText(Deno.readTextFileSync(path.join(ROOT, "examples", file)), file);
}

type Sealed = ReturnType<typeof sealPlanText>;

const sealedFromText = (text: string, file: string): Promise<Sealed> => sealedDeploy(text, file);

async function planFor(file: string): Promise<Plan> {
  return (await sealedFor(file)).plan;
}

function shape(plan: Plan) {
  return plan.phases.map((ph) => ({
    phase: ph.name,
    operations: ph.operations.map((o) => ({
      id: o.id,
      type: o.type,
      depends_on: o.depends_on,
      parallel: o.parallel,
    })),
  }));
}

for (
  const [file, counts] of [
    ["standalone.yaml", { prepare: 5, deploy: 2, finalize: 2 }],
    ["replica-set.yaml", { prepare: 11, deploy: 6, initialize: 1, finalize: 2 }],
    ["sharded.yaml", { prepare: 32, deploy: 18, initialize: 7, finalize: 2 }],
  ] as const
) {
  Deno.test(`planDeploy() golden plan for ${file}`, async () => {
    const sealed = await sealedFor(file);
    const plan = sealed.plan;
    const golden = path.join(ROOT, "tests", "golden", file.replace(".yaml", ".json"));
    const actual = JSON.stringify(shape(plan), null, 1) + "\n";
    if (Deno.env.get("UPDATE_GOLDEN")) await Deno.writeTextFile(golden, actual);
    assert.deepEqual(
      JSON.parse(actual),
      JSON.parse(await Deno.readTextFile(golden)),
      `plan for ${file} differs from ${golden} (UPDATE_GOLDEN=1 rewrites it)`,
    );
    assert.deepEqual(
      Object.fromEntries(plan.phases.map((p) => [p.name, p.operations.length])),
      counts,
    );
    assert.equal(
      checkPlanText(sealed.text, file).issues.filter((i) => i.severity === "error").length,
      0,
    );
  });
}

Deno.test("planDeploy() is pure: the same input gives the same plan and hash", async () => {
  assert.equal(
    (await planFor("sharded.yaml")).content_hash,
    (await planFor("sharded.yaml")).content_hash,
  );
});

Deno.test("a plan file holds one operation per line, ends with its hash and reads back whole", async () => {
  const sealed = await sealedFor("sharded.yaml");
  const { plan } = sealed;
  const { text } = sealed;
  assert.deepEqual(JSON.parse(text), JSON.parse(JSON.stringify(plan)));
  const lines = text.split("\n").map((l) => l.trim().replace(/,$/, ""));
  for (const o of allOperations(plan)) {
    assert.equal(lines.filter((l) => l === JSON.stringify(o)).length, 1, o.id);
  }
  assert.equal(lines.at(-3), `"content_hash": "${plan.content_hash}"`);
  assert.equal(
    checkPlanText(text, "p.json").issues.filter((i) => i.code === "content_hash").length,
    0,
  );
  const edited = text.replace('"parallel":true', '"parallel":false');
  assert.match(
    checkPlanText(edited, "p.json").issues.map((i) => i.message).join("\n"),
    /content hash mismatch/,
  );
});

Deno.test("a plan file's operations are read line by line, and problems name their line", async () => {
  const { plan, text } = await sealedFor("sharded.yaml");
  const messages = (t: string) => checkPlanText(t, "p.json").issues.map((i) => i.message);
  const read = checkPlanText(text, "p.json");
  assert.deepEqual(read.issues, []);
  assert.deepEqual(read.plan, plan);
  // Any other layout is read whole, to the same plan: only the hash tells them apart.
  const pretty = JSON.stringify(plan, null, 2) + "\n";
  const whole = checkPlanText(pretty, "p.json");
  assert.deepEqual(whole.plan, plan);
  assert.deepEqual(whole.issues.map((i) => i.code), ["content_hash"]);

  const lines = text.split("\n");
  const at = lines.findIndex((l) => l.includes('"id":"start-mongod-localhost-27018"'));
  const [p, j] = [
    1,
    plan.phases[1].operations.findIndex((o) => o.id === "start-mongod-localhost-27018"),
  ];
  const badLines = lines.with(at, lines[at].replace('"parallel":true', '"parallel":"yes"'));
  const want = `p.json:${at + 1}: phases[${p}].operations[${j}].parallel: `;
  assert.ok(messages(badLines.join("\n")).some((m) => m.startsWith(want)), want);
  // The same problem in a whole-read file names the field without a line.
  const badPretty = structuredClone(plan) as unknown as { phases: { operations: object[] }[] };
  Object.assign(badPretty.phases[p].operations[j], { parallel: "yes" });
  assert.ok(
    messages(JSON.stringify(badPretty, null, 2)).some((m) =>
      m.startsWith(`p.json: phases[${p}].operations[${j}].parallel: `)
    ),
  );
  // A line that is no JSON on its own but valid within the file: read whole, nothing lost.
  const joined = lines.with(at, lines[at] + " " + lines[at].trim()).join("\n");
  assert.ok(
    messages(joined).some((m) =>
      m.includes('"start-mongod-localhost-27018" is used more than once')
    ),
  );
  // A syntax error is placed at its line and column.
  const broken = lines.with(at, lines[at].replace('{"id":', '{"id"')).join("\n");
  assert.match(messages(broken).join("\n"), new RegExp(`invalid JSON at line ${at + 1}, column `));
  // A plan broken everywhere lists 50 problems and counts the rest.
  const everywhere =
    checkPlanText(text.replaceAll('"parallel":true', '"parallel":1'), "p.json").issues;
  assert.equal(everywhere.length, 51);
  assert.match(
    everywhere[50].message,
    /^p\.json: \d+ more schema problems not shown\. Plans are made by mup, not written by hand: make a new one with the `mup cluster` command/,
  );
  // The fix is said once, at the end.
  assert.ok(!everywhere[49].message.includes("Plans are made by mup"));
});

Deno.test("sharded plan: dependencies name exactly what each operation needs", async () => {
  const plan = await planFor("sharded.yaml");
  const op = (id: string) => allOperations(plan).find((o) => o.id === id)!;
  assert.deepEqual(op("download-mongo-7.0.5-linux-x86_64").depends_on, []);
  assert.deepEqual(op("start-config-localhost-27019").depends_on, [
    "upload-config-config-localhost-27019",
    "install-binaries-localhost",
  ]);
  // Shard members do not wait for config servers: they only need their own files.
  assert.deepEqual(op("start-mongod-localhost-27018").depends_on, [
    "upload-config-mongod-localhost-27018",
    "install-binaries-localhost",
  ]);
  assert.deepEqual(op("init-rs-shard1").depends_on, [
    "wait-mongod-localhost-27018",
    "wait-mongod-localhost-27022",
    "wait-mongod-localhost-27023",
  ]);
  assert.ok(op("start-mongos-localhost-27017").depends_on.includes("init-rs-cfg"));
  assert.deepEqual(op("add-shard-shard2").depends_on, [
    "wait-mongos-localhost-27017",
    "init-rs-shard2",
  ]);
  const cfg = JSON.parse(op("init-rs-cfg").target.params.config);
  assert.equal(cfg.configsvr, true);
  assert.equal(JSON.parse(op("init-rs-shard1").target.params.config).members[0].priority, 2);
  assert.match(op("config-mongod-localhost-27018").target.params.content, /clusterRole: shardsvr/);
  assert.match(
    op("config-mongos-localhost-27017").target.params.content,
    /configDB: cfg\/localhost:27019,localhost:27020,localhost:27021/,
  );
  assert.match(
    op("config-mongos-localhost-27017").target.params.content,
    /maxIncomingConnections: 2000/,
    "runtime_config is merged",
  );
  const checks = op("start-config-localhost-27019").pre_conditions.map((c) => c.check_type);
  assert.deepEqual(checks, [
    "port_available",
    "binary_present",
    "config_valid",
    "process_not_running",
  ]);
  assert.ok(
    op("start-mongos-localhost-27017").pre_conditions.some((c) =>
      c.check_type === "dependencies_running"
    ),
  );
});

Deno.test("resource estimate counts hosts, processes by role and ports", async () => {
  const r = (await planFor("sharded.yaml")).resources;
  assert.equal(r.hosts, 1);
  assert.equal(r.total_processes, 10);
  assert.deepEqual(r.processes_by_role, { config: 3, mongod: 6, mongos: 1 });
  assert.deepEqual(r.ports_used, [
    27017,
    27018,
    27019,
    27020,
    27021,
    27022,
    27023,
    27024,
    27025,
    27026,
  ]);
  assert.equal(r.download_size_mb, 120);
  assert.deepEqual(r.processes_per_host, { localhost: 10 });
});

Deno.test("graph validation names unknown dependencies, cycles and later-phase dependencies", async () => {
  const plan = await planFor("replica-set.yaml");
  const broken = structuredClone(plan);
  broken.phases[0].operations[0].depends_on = ["no-such-op"];
  broken.phases[1].operations[0].depends_on.push("verify-health");
  const a = broken.phases[1].operations.find((o) => o.id.startsWith("wait-"))!;
  const b = broken.phases[1].operations.find((o) => o.id === a.depends_on[0])!;
  b.depends_on.push(a.id);
  const msgs = checkPlanText(JSON.stringify(broken, null, 2) + "\n", "p.json").issues.map((i) =>
    i.message
  ).join("\n");
  assert.match(msgs, /depends on unknown operation "no-such-op"/);
  assert.match(msgs, /depends on "verify-health" \(finalize\), which belongs to a later phase/);
  assert.match(
    msgs,
    /dependency cycle: .*start-mongod-localhost-27017.*wait-mongod-localhost-27017/,
  );
  assert.match(msgs, /content hash mismatch/);
});

Deno.test("topological order respects every edge; the critical path follows estimates", async () => {
  const dag = planToDag(await planFor("sharded.yaml"));
  const order = dag.topologicalOrder();
  const pos = new Map(order.map((id, i) => [id, i]));
  dag.graph.forEachEdge((_e, _a, from, to) =>
    assert.ok(pos.get(from)! < pos.get(to)!, `${from} before ${to}`)
  );
  const cp = criticalPath(dag);
  assert.equal(cp.path[0], "download-mongo-7.0.5-linux-x86_64");
  assert.equal(cp.path[cp.path.length - 1], "save-metadata");
  const sum = cp.path.reduce((n, id) => n + (dag.attrs(id).weight ?? 0), 0);
  assert.equal(cp.length, sum);
});

Deno.test("criticalPath() on a diamond picks the heavier branch", () => {
  const dag = new Dag([
    { id: "a", dependsOn: [], weight: 1 },
    { id: "b", dependsOn: ["a"], weight: 5 },
    { id: "c", dependsOn: ["a"], weight: 2 },
    { id: "d", dependsOn: ["b", "c"], weight: 1 },
  ]);
  assert.deepEqual(criticalPath(dag), { path: ["a", "b", "d"], length: 7 });
});

/** A small DOT reader: enough to read back what toDot writes. */
function parseDot(dot: string) {
  const nodes = new Map<string, string>();
  const edges: [string, string][] = [];
  const clusters: string[] = [];
  let current = "";
  for (const line of dot.split("\n").map((l) => l.trim())) {
    let m;
    if ((m = /^subgraph "(cluster_[^"]+)" \{$/.exec(line))) current = m[1];
    else if ((m = /^label = "([^"]+)";$/.exec(line)) && current) clusters.push(m[1]);
    else if ((m = /^"((?:[^"\\]|\\.)+)" -> "((?:[^"\\]|\\.)+)"/.exec(line))) {
      edges.push([m[1], m[2]]);
    } else if ((m = /^"((?:[^"\\]|\\.)+)" \[(.*)\];$/.exec(line))) nodes.set(m[1], m[2]);
    else if (line === "}") current = "";
  }
  return { nodes, edges, clusters };
}

Deno.test("toDot() output reads back to the same graph, phases as clusters, parallel nodes marked", async () => {
  const plan = await planFor("sharded.yaml");
  const dag = planToDag(plan);
  const dot = toDot(dag, { name: plan.plan_id, label: operationLabels(plan) });
  assert.match(dot, /^digraph "plan-golden" \{/);
  const parsed = parseDot(dot);
  assert.equal(
    parsed.nodes.size,
    allOperations(plan).length + 2,
    "operations plus two legend nodes",
  );
  assert.equal(parsed.edges.length, dag.graph.size);
  for (const [from, to] of parsed.edges) assert.ok(dag.graph.hasEdge(from, to), `${from} -> ${to}`);
  assert.deepEqual(parsed.clusters, ["prepare", "deploy", "initialize", "finalize", "legend"]);
  assert.match(parsed.nodes.get("start-config-localhost-27019")!, /style = "rounded,filled"/);
  assert.match(parsed.nodes.get("verify-health")!, /fillcolor = "#fff3e0"/);
  assert.match(
    parsed.nodes.get("verify-health")!,
    /label = "verify-health\\nVerify cluster health"/,
  );
});

Deno.test("hooks in the topology are carried into the plan with defaults filled in", async () => {
  const plan = await planFor("sharded.yaml");
  assert.equal(plan.hooks.length, 1);
  assert.equal(plan.hooks[0].event, "after_phase");
  assert.equal(plan.hooks[0].timeout_ms, 30_000);
  assert.equal(plan.hooks[0].working_dir, "/topologies");
  assert.equal(plan.phases[0].after_hook?.command, plan.hooks[0].command);
});

Deno.test("PlanStore.newest() picks the latest created_at, not the last file name", async () => {
  const store = new PlanStore(await tempDir("mup-store-"));
  const base = await planFor("standalone.yaml");
  const save = (planId: string, createdAt: string) => {
    const { content_hash: _, ...rest } = base;
    return store.savePlan({ ...rest, plan_id: planId, created_at: createdAt }).then((s) => s.path);
  };
  await save("plan-aaaa", "2026-03-01T00:00:00.000Z");
  const newest = await save("plan-bbbb", "2026-05-01T00:00:00.000Z");
  await save("plan-cccc", "2026-04-01T00:00:00.000Z");
  assert.equal(await store.newest(base.cluster_name), newest);
  assert.equal(await store.resolve(base.cluster_name), newest);
});

/** A sharded topology of `n` three-member shards, one config set and one mongos. */
function shardedText(n: number): string {
  const shards = Array.from(
    { length: n },
    (_, k) =>
      [0, 1, 2].map((m) =>
        `  - { host: localhost, port: ${28000 + k * 3 + m}, replica_set: s${k} }`
      ).join("\n"),
  ).join("\n");
  return `config_servers:
${[0, 1, 2].map((m) => `  - { host: localhost, port: ${27100 + m}, replica_set: cfg }`).join("\n")}
mongos_servers:
  - { host: localhost, port: 27000 }
mongod_servers:
${shards}
`;
}

Deno.test("a plan file of several megabytes is sealed into the store as it is encoded and validates", async () => {
  const store = new PlanStore(await tempDir("mup-store-"));
  const { plan, text } = await sealedFromText(shardedText(200), "big.yaml");
  const { content_hash: _, ...unsealed } = plan;
  const saved = await store.savePlan(unsealed);
  const written = await Deno.readTextFile(saved.path);
  assert.ok(written.length > 3_000_000, `plan file of ${written.length} bytes`);
  assert.equal(written, text);
  assert.equal(saved.plan.content_hash, plan.content_hash);
  const check = checkPlanText(written, saved.path);
  assert.deepEqual(check.issues.filter((i) => i.severity === "error"), []);
  assert.equal(check.dag!.graph.order, allOperations(plan).length);
});

Deno.test("plan show cuts long runs of alike lines on large clusters; --all lists every one", async () => {
  const plan = (await sealedFromText(shardedText(12), "big.yaml")).plan;
  const short = renderPlan(plan);
  assert.match(short, /Initialize s3 replica set\n +• … 8 more replica sets to initiate/);
  assert.match(short, /Add s4 to cluster\n +• … 7 more shards to add/);
  assert.doesNotMatch(short, /Initialize s11 replica set/);
  // The cut line's command works pasted: it names the plan.
  assert.ok(
    short.includes(`more shards to add (\`mup plan show ${plan.plan_id} --all\` lists every one)`),
    short,
  );
  const all = renderPlan(plan, { all: true });
  for (let k = 0; k < 12; k++) {
    assert.match(all, new RegExp(`Initialize s${k} replica set`));
    assert.match(all, new RegExp(`Add s${k} to cluster`));
  }
  assert.doesNotMatch(all, /more replica sets to initiate/);
});

Deno.test("planDeploy() of a sharded cluster with a default write concern lists its setting before the first addShard, which waits for it", async () => {
  const text = Deno.readTextFileSync(path.join(ROOT, "examples", "sharded.yaml"))
    .replace(/^global:\n/m, "global:\n  default_write_concern: { w: majority }\n");
  const plan = (await sealedFromText(text, "sharded.yaml")).plan;
  const initialize = plan.phases.find((p) => p.name === "initialize")!.operations;
  const set = initialize.findIndex((o) => o.type === "set_default_write_concern");
  const shard = initialize.findIndex((o) => o.type === "add_shard");
  assert.ok(set >= 0 && shard >= 0, JSON.stringify(initialize.map((o) => o.type)));
  assert.ok(set < shard, JSON.stringify(initialize.map((o) => o.type)));
  for (const o of initialize.filter((o) => o.type === "add_shard")) {
    assert.ok(o.depends_on.includes(initialize[set].id), o.id);
  }
});

Deno.test("a deploy's review lists its steps in the order the apply runs them: the admin users before the shards they are added with (tester101 #3)", async () => {
  const text = Deno.readTextFileSync(path.join(ROOT, "examples", "sharded.yaml"));
  const { plan } = await sealedDeploy(text, "sharded.yaml", true);
  const review = renderPlan(plan);
  const at = (line: string) => {
    const i = review.indexOf(line);
    assert.ok(i >= 0, `${line} in:\n${review}`);
    return i;
  };
  assert.ok(at("Create admin through mongos") < at("Add shard1 to cluster"), review);
  assert.ok(at("Create admin on shard1") < at("Add shard1 to cluster"), review);
  assert.ok(at("Initialize shard1 replica set") < at("Create admin on shard1"), review);
});
