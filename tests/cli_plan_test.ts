import assert from "node:assert/strict";
import * as path from "node:path";
import {
  deployArgs,
  freePorts,
  mup,
  output,
  planSharded,
  readJson,
  ROOT,
  shardedTopology,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import type { Plan } from "../lib/plan/schema.ts";
import { V8_FLAGS } from "../scripts/_mup_cmd.ts";
import { installFixture } from "./fixture.ts";

installFixture();

Deno.test("cluster deploy --plan-only resolves 7.0 to the newest 7.0.x, saves the plan and prints it", async () => {
  const home = await tempHome();
  const mirror = await testMirror();
  const topo = await writeTopology(home, "topo.yaml", shardedTopology(freePorts(10)));
  const r = await mup(deployArgs("c1", topo, mirror, ["--plan-only"]), { home });
  assert.equal(r.code, 0, output(r));
  assert.match(r.stdout, /MongoDB version: 7\.0\.14/);
  assert.match(r.stdout, /Topology: Sharded cluster \(2 shards, 3 nodes each\)/);
  assert.match(r.stdout, /✓ All ports available \(10 ports on 1 host\)/);
  assert.match(r.stdout, /Plan saved to: .*clusters\/c1\/plans\/plan-[0-9a-f]{8}\.json/);
  assert.match(r.stdout, /Total processes: 10 \(3 config, 6 mongod, 1 mongos\)/);
  assert.match(r.stdout, /Start 3 config servers \(parallel\)/);
  assert.match(r.stdout, /Validation: ✓ Plan is valid/);
  const id = /Plan generated: (plan-[0-9a-f]{8})/.exec(r.stdout)?.[1];
  assert.match(r.stdout, new RegExp(`\nTo apply it: mup plan apply ${id}\n`));
  const exact = await mup(deployArgs("c2", topo, mirror, ["--plan-only"], "6.0.19"), { home });
  assert.match(exact.stdout, /MongoDB version: 6\.0\.19/);
});

Deno.test("--detailed-exitcode exits 2 when the plan has changes; a busy port makes the plan invalid (exit 1)", async () => {
  const home = await tempHome();
  const mirror = await testMirror();
  const ports = freePorts(10);
  const topo = await writeTopology(home, "topo.yaml", shardedTopology(ports));
  const r = await mup(
    deployArgs("c1", topo, mirror, ["--plan-only", "--detailed-exitcode"], "7.0.5"),
    { home },
  );
  assert.equal(r.code, 2, output(r));
  const l = Deno.listen({ hostname: "127.0.0.1", port: ports[4] });
  try {
    const busy = await mup(deployArgs("c1", topo, mirror, ["--plan-only"], "7.0.5"), { home });
    assert.equal(busy.code, 1, output(busy));
    assert.match(busy.stdout, new RegExp(`✗ ports already in use: localhost:${ports[4]}`));
    assert.match(busy.stdout, /Validation: ✗ Plan is not valid/);
  } finally {
    l.close();
  }
});

Deno.test("plan show, list, export, validate, graph, diff, delete work on a saved plan", async () => {
  const home = await tempHome();
  const out = await planSharded(home, freePorts(10));
  const id = out.plan_id as string;
  const show = await mup(["plan", "show", id], { home });
  assert.equal(show.code, 0, output(show));
  assert.match(show.stdout, new RegExp(`Plan ID: ${id}`));
  assert.match(show.stdout, /1\. Prepare \(estimated: .+\)/);
  assert.match(show.stdout, /4\. Finalize/);
  const byCluster = await mup(["plan", "show", "c1", "--json"], { home });
  assert.equal(JSON.parse(byCluster.stdout).plan_id, id);
  const list = await mup(["plan", "list", "--json"], { home });
  assert.deepEqual(JSON.parse(list.stdout).map((e: { plan_id: string }) => e.plan_id), [id]);

  const exported = await mup(["plan", "export", id], { home });
  assert.equal(JSON.parse(exported.stdout).content_hash, out.plan.content_hash);
  const file = path.join(home, "exported.json");
  await Deno.writeTextFile(file, exported.stdout);
  const valid = await mup(["plan", "validate", file], { home });
  assert.equal(valid.code, 0, output(valid));
  assert.match(valid.stdout, /plan is valid/);

  const dot = await mup(["plan", "graph", id], { home });
  assert.match(dot.stdout, /^digraph "plan-/);
  const svg = await new Deno.Command("dot", { args: ["-Tsvg"], stdin: "piped", stdout: "piped" })
    .spawn();
  const w = svg.stdin.getWriter();
  await w.write(new TextEncoder().encode(dot.stdout));
  await w.close();
  const rendered = await svg.output();
  assert.equal(rendered.code, 0, "dot -Tsvg renders the graph");
  assert.match(new TextDecoder().decode(rendered.stdout), /<svg/);
  const gj = JSON.parse((await mup(["plan", "graph", id, "--format", "json"], { home })).stdout);
  // 59 operations, and with access control (the default): the keyfile and the admin password,
  // the keyfile's install on the one host, the admin user on each shard and through mongos.
  assert.equal(gj.nodes.length, 65);
  assert.equal(gj.critical_path.path.at(-1), "save-metadata");

  const diff = await mup(["plan", "diff", "c1", "--detailed-exitcode"], { home });
  assert.equal(diff.code, 2, output(diff));
  assert.match(diff.stdout, /\+ process +config-localhost-\d+ +\(start\)/);
  // The release's download is a change while its archive is not cached; once something else
  // (another cluster's deploy) has put it there, intact, the diff says so.
  const dl = (out.plan as Plan).phases.flatMap((ph) => ph.operations)
    .find((o) => o.type === "download_binary")!;
  const { archive, url } = dl.target.params;
  const line = (text: string) => text.split("\n").find((l) => l.includes(archive)) ?? "";
  assert.match(line(diff.stdout), /\+ file .*\(create\)/, diff.stdout);
  await Deno.mkdir(path.dirname(archive), { recursive: true });
  await Deno.copyFile(url.startsWith("file:") ? new URL(url).pathname : url, archive);
  const cachedDiff = await mup(["plan", "diff", "c1"], { home });
  assert.doesNotMatch(line(cachedDiff.stdout), /\(create\)/, cachedDiff.stdout);
  // So is a secret already in mup's store (an apply that failed after making it, before this
  // plan), as the apply finds it in place (tester43).
  const keyLine = (text: string) => text.split("\n").find((l) => /secret:keyfile/.test(l)) ?? "";
  assert.match(keyLine(cachedDiff.stdout), /\+ secret .*\(create\)/, cachedDiff.stdout);
  const secrets = path.join(home, "storage", "clusters", "c1", "secrets");
  await Deno.mkdir(secrets, { recursive: true });
  await Deno.writeTextFile(path.join(secrets, "keyfile"), "a".repeat(756));
  const keyDiff = await mup(["plan", "diff", "c1"], { home });
  assert.doesNotMatch(keyLine(keyDiff.stdout), /\(create\)/, keyDiff.stdout);
  const keyJson = JSON.parse((await mup(["plan", "diff", "c1", "--json"], { home })).stdout);
  const keyfile = keyJson.changes.find((c: { resource_id: string }) =>
    c.resource_id === "secret:keyfile"
  );
  assert.equal(keyfile?.action, "none", JSON.stringify(keyJson.changes));
  await Deno.remove(secrets, { recursive: true });
  // So are a process's directories that a failed first deploy made (tester49): the apply finds
  // them in place; the other processes' directories are still to create.
  const dirs = (out.plan as Plan).phases.flatMap((ph) => ph.operations)
    .filter((o) => o.type === "create_directory");
  const [made, other] = dirs;
  const dirOf = (o: typeof made) => (j: { changes: { operation: string; action: string }[] }) =>
    j.changes.filter((c) => c.operation === o.id).map((c) => c.action);
  const before = JSON.parse((await mup(["plan", "diff", "c1", "--json"], { home })).stdout);
  assert.deepEqual([...new Set(dirOf(made)(before))], ["create"], JSON.stringify(before.changes));
  const paths = JSON.parse(made.target.params.paths) as string[];
  // What the test makes goes again whole: the topmost directory that was not there.
  const exists = (p: string) => Deno.stat(p).then(() => true, () => false);
  const tops = new Set<string>();
  for (const p of paths) {
    let top = p;
    while (!(await exists(path.dirname(top)))) top = path.dirname(top);
    if (!(await exists(top))) tops.add(top);
  }
  for (const p of paths) await Deno.mkdir(p, { recursive: true });
  try {
    const after = JSON.parse((await mup(["plan", "diff", "c1", "--json"], { home })).stdout);
    assert.deepEqual([...new Set(dirOf(made)(after))], ["none"], JSON.stringify(after.changes));
    assert.deepEqual([...new Set(dirOf(other)(after))], ["create"]);
  } finally {
    for (const t of tops) await Deno.remove(t, { recursive: true });
  }

  const del = await mup(["plan", "delete", id], { home });
  assert.equal(del.code, 0, output(del));
  assert.equal(JSON.parse((await mup(["plan", "list", "--json"], { home })).stdout).length, 0);
  // The cluster was never deployed: deleting its last plan leaves no directory behind.
  assert.deepEqual(await Array.fromAsync(Deno.readDir(path.join(home, "storage", "clusters"))), []);
});

Deno.test("a sharded cluster of one shard is described in plain words", async () => {
  const home = await tempHome();
  const p = freePorts(5);
  const topo = await writeTopology(
    home,
    "one.yaml",
    `config_servers:
  - { host: localhost, port: ${p[0]}, replica_set: cfg }
mongod_servers:
  - { host: localhost, port: ${p[1]}, replica_set: shard1 }
  - { host: localhost, port: ${p[2]}, replica_set: shard1 }
  - { host: localhost, port: ${p[3]}, replica_set: shard1 }
mongos_servers:
  - { host: localhost, port: ${p[4]} }
`,
  );
  const r = await mup(deployArgs("one", topo, await testMirror(), ["--plan-only"]), { home });
  assert.equal(r.code, 0, output(r));
  assert.match(r.stdout, /Topology: Sharded cluster \(1 shard of 3 nodes\)/);
});

Deno.test("plan import validates before storing; a tampered plan is refused", async () => {
  const home = await tempHome();
  // With a deploy_dir of its own, a plan still downloads, stages and records in the store it
  // was made in: another store refuses it.
  const out = await planSharded(
    home,
    freePorts(10),
    "c1",
    (p) => `global:\n  deploy_dir: ${path.join(home, "root")}\n${shardedTopology(p)}`,
  );
  const text = await Deno.readTextFile(out.path);
  const elsewhere = await mup(["plan", "import", "--json"], {
    home: await tempHome(),
    stdin: text,
  });
  assert.equal(elsewhere.code, 1, output(elsewhere));
  assert.match(
    elsewhere.stdout,
    new RegExp(`the plan was made in another store: operation \\S+'s \\w+ ${home}/`),
  );
  // Deleted here and imported again, it is stored byte for byte.
  assert.equal((await mup(["plan", "delete", out.plan_id], { home })).code, 0);
  const ok = await mup(["plan", "import", "--json"], { home, stdin: text });
  assert.equal(ok.code, 0, output(ok));
  // Stored byte for byte, so the imported copy keeps its hash.
  assert.equal(await Deno.readTextFile(JSON.parse(ok.stdout).path), text);
  const tampered = structuredClone(out.plan);
  tampered.phases[1].operations[0].target.params.binary = "/tmp/evil";
  const bad = await mup(["plan", "import"], {
    home: await tempHome(),
    stdin: JSON.stringify(tampered, null, 2) + "\n",
  });
  assert.equal(bad.code, 1, output(bad));
  assert.match(bad.stderr, /content hash mismatch/);
  assert.match(bad.stderr, /nothing was imported/);
  const file = path.join(home, "tampered.json");
  await Deno.writeTextFile(file, JSON.stringify(tampered, null, 2) + "\n");
  // Named as a file, as the export wrote it (tester40 L9): checked the same, and said by name.
  const byName = await mup(["plan", "import", file], { home: await tempHome() });
  assert.equal(byName.code, 1, output(byName));
  assert.match(byName.stderr, /the plan in \S*tampered\.json is not valid; nothing was imported/);
  const copy = path.join(home, "copy.json");
  await Deno.writeTextFile(copy, text);
  const same = await mup(["plan", "import", copy], { home });
  assert.equal(same.code, 0, output(same));
  assert.match(same.stdout, /is already stored, identical/);
  const v = await mup(["plan", "validate", file, "--json"], { home });
  assert.equal(v.code, 1, output(v));
  assert.equal(JSON.parse(v.stdout).valid, false);
  // Applied, the edited file's error document says what to do and what check failed (tester60).
  const applied = await mup(["plan", "apply", file, "--json", "--auto-approve"], { home });
  assert.equal(applied.code, 1, output(applied));
  const doc = JSON.parse(applied.stdout.trim().split("\n").pop()!);
  assert.equal(doc.type, "error");
  assert.equal(doc.check, "plan_modified");
  assert.match(doc.hint, /changed after mup wrote it: plan again/);
  assert.ok(doc.issues.some((i: { code: string }) => i.code === "content_hash"), applied.stdout);
  // Reformatting is an edit too: the same content, compact, is refused.
  const compact = await mup(["plan", "import"], {
    home: await tempHome(),
    stdin: JSON.stringify(out.plan),
  });
  assert.equal(compact.code, 1, output(compact));
  assert.match(compact.stderr, /does not end with the content_hash line mup writes/);
  await Deno.writeTextFile(file, '{\n  "format_version": 1,\n  oops\n}');
  const syntax = await mup(["plan", "validate", file], { home });
  assert.match(syntax.stdout, /invalid JSON at line 3, column 3/);
  // A file that is not JSON at all: its contents are not quoted back.
  await Deno.writeTextFile(file, "root:x:0:0:secret-ish\n");
  const notJson = await mup(["plan", "validate", file], { home });
  assert.match(notJson.stdout, /invalid JSON: Unexpected token 'r'/, output(notJson));
  assert.doesNotMatch(notJson.stdout + notJson.stderr, /secret-ish|root:x/);
  await Deno.writeTextFile(file, JSON.stringify({ ...out.plan, format_version: 99 }));
  assert.match(
    (await mup(["plan", "validate", file], { home })).stdout,
    /written by a newer mup \(format 99; this mup reads format 1\)\. Apply it with that mup, or plan again with this one/,
  );
  await Deno.writeTextFile(file, "{}");
  assert.match(
    (await mup(["plan", "validate", file], { home })).stdout,
    /not a mup plan: it has no format_version/,
  );
});

Deno.test("bad input gives a clear error naming the file and line, never a stack trace", async () => {
  const home = await tempHome();
  const topo = await writeTopology(
    home,
    "bad.yaml",
    "mongod_servers:\n  - host: localhost\n    prot: 27017\n",
  );
  const r = await mup(deployArgs("c1", topo, await testMirror(), ["--plan-only"]), { home });
  assert.equal(r.code, 1, output(r));
  assert.match(
    r.stderr,
    new RegExp(
      `${
        topo.replaceAll("/", "\\/")
      }:3:5: error: mongod_servers\\[0\\]\\.prot: unknown key "prot" \\(did you mean "port"\\?\\)`,
    ),
  );
  assert.match(r.stderr, /fix: rename it to "port"/);
  assert.doesNotMatch(r.stderr, /\bat .*\.ts:\d+/);
  const json = await mup(["topology", "validate", topo, "--json"], { home });
  assert.equal(JSON.parse(json.stdout).issues[0].location.line, 3);
  const missing = await mup(["cluster", "deploy", "c1", "/nope.yaml", "--version", "7.0"], {
    home,
  });
  assert.match(missing.stderr, /cannot read topology file \/nope\.yaml/);
  const good = await writeTopology(
    home,
    "good.yaml",
    "mongod_servers:\n  - { host: localhost, port: 0 }\n",
  );
  const version = await mup(deployArgs("c1", good, await testMirror(), [], "9.9"), { home });
  assert.equal(version.code, 1, output(version));
  assert.match(version.stderr, /MongoDB 9\.9 is not in the version manifest/);
  assert.match(version.stderr, /available series: 8\.0, 7\.0, 6\.0/);
  // A patch release its series does not have: that series' releases are named (tester65).
  const patch = await mup(deployArgs("c1", good, await testMirror(), [], "7.0.99"), { home });
  assert.equal(patch.code, 1, output(patch));
  assert.match(
    patch.stderr,
    /releases of 7\.0: 7\.0\.14, 7\.0\.5 \(`--version 7\.0` is the newest\)/,
  );
  // validate checks its --version as deploy does, against the series it knows the options of.
  for (const [v, why] of [["banana", /invalid version "banana"/], ["9.9", /outside the series/]]) {
    const checked = await mup(["topology", "validate", good, "--version", v as string], { home });
    assert.equal(checked.code, 1, output(checked));
    assert.match(checked.stderr, why as RegExp);
  }
  const percona = await mup(["topology", "validate", good, "--version", "7.0.5-3"], { home });
  assert.equal(percona.code, 0, output(percona));
  const ghost = await mup(["state", "rollback", "ghost", "--checkpoint", "start"], { home });
  assert.equal(ghost.code, 1, output(ghost));
  assert.match(ghost.stderr, /no cluster named "ghost"\nHint: `mup cluster list` shows/);
  const noName = await mup(["state", "show"], { home });
  assert.equal(noName.code, 1, output(noName));
  assert.match(noName.stderr, /name a cluster or give --state-id\nHint: `mup cluster list` shows/);
  const noPlan = await mup(["plan", "show", "nothing-here"], { home });
  assert.match(noPlan.stderr, /no plan, plan ID or cluster named "nothing-here"/);
  assert.match(noPlan.stderr, /Hint: `mup plan list`/);
  // An unknown graph format is refused before any plan is looked for.
  const format = await mup(["plan", "graph", "nothing-here", "--format", "svg"], { home });
  assert.equal(format.code, 1, output(format));
  assert.match(format.stderr, /unknown graph format "svg"/);
  assert.match(format.stderr, /Hint: use --format dot or --format json/);
  // …also beside --json (tester46: it printed the JSON graph and exited 0).
  const both = await mup(["plan", "graph", "nothing-here", "--format", "xml", "--json"], { home });
  assert.equal(both.code, 1, output(both));
  assert.match(JSON.parse(both.stdout).error, /unknown graph format "xml"/);
  const two = await mup(["plan", "graph", "nothing-here", "--format", "dot", "--json"], { home });
  assert.equal(two.code, 1, output(two));
  assert.match(JSON.parse(two.stdout).error, /--format dot and --json ask for two formats/);
});

Deno.test("--help explains every command; the topology schema is printed", async () => {
  const home = await tempHome();
  for (
    const args of [["--help"], ["cluster", "deploy", "--help"], ["plan", "--help"], [
      "plan",
      "resume",
      "--help",
    ], ["state", "--help"]]
  ) {
    const r = await mup(args, { home });
    assert.equal(r.code, 0, args.join(" "));
    assert.match(r.stdout, /Usage: mup/);
  }
  // Where the state lives, which no option says (tester91).
  assert.match(
    (await mup(["--help"], { home })).stdout,
    /Environment:\n {2}MUP_HOME +where mup keeps clusters, plans, apply states, secrets/,
  );
  // Piped, help wraps at 100 columns, the long descriptions beside the wide first column of
  // `cluster --help` too (they were left as lines of 600 characters, tester53).
  for (const args of [["cluster", "--help"], ["plan", "--help"], ["cluster", "deploy", "--help"]]) {
    const r = await mup(args, { home });
    const long = r.stdout.split("\n").filter((l) => l.length > 100);
    assert.deepEqual(long, [], args.join(" "));
    assert.match(r.stdout, /\n {20,}\S/, `${args.join(" ")}: descriptions wrap under their column`);
  }
  // plan diff compares with the live cluster too, not only with its record, and says so.
  const diffHelp = await mup(["plan", "diff", "--help"], { home });
  assert.equal(diffHelp.code, 0, output(diffHelp));
  assert.match(diffHelp.stdout.replace(/\s+/g, " "), /against its recorded state and, where/);
  assert.match(diffHelp.stdout.replace(/\s+/g, " "), /the live one/);
  // Every way of starting mup runs it with the same V8 flags as the compiled binary.
  const flags = `--v8-flags=${V8_FLAGS}`;
  assert.ok(
    JSON.parse(await Deno.readTextFile(path.join(ROOT, "deno.json"))).tasks.mup.includes(flags),
  );
  assert.ok((await Deno.readTextFile(path.join(ROOT, "main.ts"))).split("\n")[0].includes(flags));
  const version = await mup(["--version"], { home });
  assert.equal(version.code, 0, output(version));
  assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
  const schema = await mup(["topology", "schema"], { home });
  assert.equal(JSON.parse(schema.stdout).type, "object");
  // `x-` keys hold anchors for merge keys: an editor must not flag them.
  assert.deepEqual(JSON.parse(schema.stdout).patternProperties, { "^x-": {} });
  const schemaJson = await mup(["topology", "schema", "--json"], { home });
  assert.equal(schemaJson.code, 0, output(schemaJson));
  assert.equal(schemaJson.stdout, schema.stdout);
  const unknown = await mup(["plan", "shwo"], { home });
  assert.equal(unknown.code, 1, output(unknown));
  assert.match(unknown.stderr, /Did you mean show\?/);
  // A usage error reads like mup's other errors and names the help that shows the usage.
  assert.match(unknown.stderr, /^Error: unknown command 'shwo'\n/);
  assert.match(unknown.stderr, /Hint: `mup plan --help` shows its usage\n$/);
  const typo = await mup(["cluster", "list", "--jsn"], { home });
  assert.equal(typo.code, 1, output(typo));
  assert.match(typo.stderr, /^Error: unknown option '--jsn'\n\(Did you mean --json\?\)\n/);
  assert.match(typo.stderr, /Hint: `mup cluster list --help` shows its usage/);
  // Missing arguments are named before a missing option, one at a time, in order.
  const bare = await mup(["cluster", "deploy"], { home });
  assert.equal(bare.code, 1, output(bare));
  assert.match(bare.stderr, /^Error: missing required argument 'name'\n/);
  const noVersion = await mup(["cluster", "deploy", "c9", "t.yaml", "--json"], { home });
  assert.equal(noVersion.code, 1, output(noVersion));
  const doc = JSON.parse(noVersion.stdout);
  assert.equal(doc.error, "required option '--version <version>' not specified");
  assert.match(doc.hint, /`mup cluster deploy c9 t\.yaml --version 7\.0`/);
});

Deno.test("plan files live in the specification's layout", async () => {
  const home = await tempHome();
  const out = await planSharded(home, freePorts(10));
  const p = await readJson(
    path.join(home, "storage", "clusters", "c1", "plans", `${out.plan_id}.json`),
  );
  assert.equal(p.format_version, 1);
  assert.equal(p.cluster_name, "c1");
});

Deno.test("a plan file that cannot be written is a clear error, and the stored plan is kept", async () => {
  const home = await tempHome();
  const topo = await writeTopology(home, "c.yaml", shardedTopology(freePorts(10)));
  const r = await mup(
    deployArgs("c1", topo, await testMirror(), [
      "--plan-only",
      "--plan-file",
      // A directory that exists and takes no new file (one that does not exist is refused
      // before anything is written: lifecycle_flags_test).
      "/proc/mup-plan.json",
    ]),
    { home },
  );
  assert.equal(r.code, 1, output(r));
  assert.match(r.stderr, /cannot write the plan file \/proc\/mup-plan\.json/);
  assert.match(r.stderr, /the plan itself is saved as .*plans\/plan-\w+\.json/);
  assert.doesNotMatch(r.stderr, /bug in mup|at .*\.ts:\d+/);
  const list = await mup(["plan", "list", "c1", "--json"], { home });
  assert.equal(JSON.parse(list.stdout).length, 1);
});
