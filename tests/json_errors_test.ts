/**
 * `--json` failures (issue 15, item 1): every command, on every failure path, prints one JSON
 * error document on stdout and exits non-zero. Commands that stream NDJSON events end the
 * stream with it; the others print it alone.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import {
  deployArgs,
  freePorts,
  killAll,
  mup,
  type MupResult,
  output,
  portTakenBefore,
  pressCtrlCTwice,
  readJson,
  spawnMup,
  standaloneTopology,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { writeMeta } from "../lib/state/meta.ts";
import type { Plan } from "../lib/plan/schema.ts";
import { deadline, installFixture } from "./fixture.ts";

installFixture();

interface ErrorDoc {
  type: "error";
  error: string;
  hint?: string;
  [k: string]: unknown;
}

/** The error document of a failed `--json` run; `streamed`: events may come before it. */
function errorDoc(r: MupResult, what: string, streamed = false): ErrorDoc {
  assert.notEqual(r.code, 0, `${what}: exit code 0\n${r.stdout}${r.stderr}`);
  const lines = r.stdout.split("\n").filter((l) => l.trim() !== "");
  assert.ok(lines.length >= 1, `${what}: nothing on stdout (stderr: ${r.stderr})`);
  if (!streamed) assert.equal(lines.length, 1, `${what}: one document, got\n${r.stdout}`);
  const docs = lines.map((l, i) => {
    try {
      return JSON.parse(l);
    } catch {
      assert.fail(`${what}: stdout line ${i + 1} is not JSON: ${l}`);
    }
  });
  for (const d of docs.slice(0, -1)) {
    assert.ok(typeof d.event === "string", `${what}: a line before the error is not an event`);
  }
  const doc = docs[docs.length - 1];
  assert.equal(doc.type, "error", `${what}: last line ${lines[lines.length - 1]}`);
  assert.equal(typeof doc.error, "string");
  assert.ok(doc.error.length > 0);
  assert.doesNotMatch(r.stderr, /bug in mup/i, what);
  return doc;
}

async function planStandalone(home: string, port: number, extra = ""): Promise<Plan> {
  const topo = await writeTopology(home, "s.yaml", standaloneTopology([port], extra));
  const r = await mup(deployArgs("c1", topo, await testMirror(), ["--plan-only", "--json"]), {
    home,
  });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return JSON.parse(r.stdout).plan;
}

Deno.test("--json: validation, usage and lookup failures of each command print one error document", async () => {
  const home = await tempHome();
  const mirror = await testMirror();
  const bad = await writeTopology(
    home,
    "bad.yaml",
    "mongod_servers:\n  - { host: localhost, prot: 1 }\n",
  );
  const good = await writeTopology(home, "good.yaml", standaloneTopology([freePorts(1)[0]]));
  const cases: [string, string[], (d: ErrorDoc) => void][] = [
    [
      "deploy: invalid topology",
      deployArgs("c1", bad, mirror, ["--auto-approve", "--json"]),
      (d) => {
        assert.equal((d.issues as { code: string }[])[0].code, "unknown_key");
      },
    ],
    ["deploy: missing topology", deployArgs("c1", "/nope.yaml", mirror, ["--json"]), (d) => {
      assert.match(d.error, /cannot read topology file/);
    }],
    ["deploy: unknown version", deployArgs("c1", good, mirror, ["--json"], "9.9"), (d) => {
      assert.match(d.error, /9\.9 is not in the version manifest/);
      assert.ok(d.hint);
    }],
    ["deploy: usage", ["cluster", "deploy", "c1", good, "--json"], (d) => {
      assert.match(d.error, /--version/);
    }],
    ["topology validate", ["topology", "validate", bad, "--json"], (d) => {
      assert.equal((d.issues as unknown[]).length, 1);
      // The one problem's fix is the document's hint too (tester39).
      assert.equal(d.hint, (d.issues as { hint: string }[])[0].hint);
      assert.ok(d.hint);
    }],
    ["plan show", ["plan", "show", "nothing", "--json"], (d) => assert.ok(d.hint)],
    ["plan export", ["plan", "export", "nothing", "--json"], (d) => assert.ok(d.hint)],
    ["plan graph", ["plan", "graph", "nothing", "--json"], (d) => assert.ok(d.hint)],
    ["plan validate", ["plan", "validate", "nothing", "--json"], () => {}],
    ["plan delete", ["plan", "delete", "plan-00000000", "--json"], () => {}],
    ["plan diff", ["plan", "diff", "c9", "--json"], () => {}],
    ["plan apply", ["plan", "apply", "--json"], (d) => assert.match(d.error, /name the plan/)],
    ["plan resume", ["plan", "resume", "c9", "--json"], (d) => {
      assert.match(d.error, /no cluster named "c9"/);
    }],
    ["state show", ["state", "show", "--state-id", "apply-0", "--json"], () => {}],
    ["state checkpoints", ["state", "checkpoints", "c9", "--json"], () => {}],
    ["unknown option", ["state", "list", "c1", "--jsn", "--json"], (d) => {
      assert.match(String(d.code), /unknownOption/);
      assert.equal(d.hint, "`mup state list --help` shows its usage");
    }],
    // Apply flags are checked while parsing, before a plan is made or saved.
    [
      "bad --parallelism",
      deployArgs("c1", good, mirror, ["--plan-only", "--parallelism", "0", "--json"]),
      (d) => assert.match(d.error, /--parallelism must be a positive whole number, not "0"/),
    ],
    [
      "bad --on-failure",
      deployArgs("c1", good, mirror, ["--dry-run", "--on-failure", "bogus", "--json"]),
      (d) => assert.match(d.error, /--on-failure must be abort or pause, not "bogus"/),
    ],
  ];
  for (const [what, args, check] of cases) check(errorDoc(await mup(args, { home }), what));
  // Nothing was planned for the refused command lines.
  const plans = await mup(["plan", "list", "c1", "--json"], { home });
  assert.doesNotMatch(plans.stdout, /plan-/, output(plans));
});

Deno.test("--json: a pre-flight failure of deploy --auto-approve prints the failing checks", async () => {
  const home = await tempHome();
  const [port] = freePorts(1);
  const topo = await writeTopology(home, "s.yaml", standaloneTopology([port]));
  const l = Deno.listen({ hostname: "127.0.0.1", port });
  try {
    for (const extra of [["--auto-approve"], ["--plan-only"]]) {
      const r = await mup(deployArgs("c1", topo, await testMirror(), [...extra, "--json"]), {
        home,
      });
      const d = errorDoc(r, `deploy ${extra[0]}`);
      assert.match(d.error, /pre-flight checks failed/);
      const checks = d.checks as { name: string; message: string }[];
      assert.ok(checks.some((c) => c.message.includes(`ports already in use: localhost:${port}`)));
      assert.match(String(d.plan_id), /^plan-/);
    }
    // The invalid plan written with --plan-file, then applied: the same document.
    const file = path.join(home, "invalid.json");
    const written = await mup(
      deployArgs("c1", topo, await testMirror(), ["--plan-file", file, "--json"]),
      { home },
    );
    const writtenDoc = errorDoc(written, "deploy --plan-file");
    assert.equal(writtenDoc.stored, false);
    assert.match(String(writtenDoc.hint), new RegExp(`\`mup plan show ${file}\``));
    const shown = await mup(["plan", "show", file], { home });
    assert.equal(shown.code, 0, output(shown));
    const saved = await mup(["plan", "apply", file, "--auto-approve", "--json"], { home });
    const d = errorDoc(saved, "plan apply of an invalid plan");
    assert.match(d.error, /pre-flight checks failed/);
    assert.ok((d.checks as { message: string }[]).some((c) => c.message.includes(`:${port}`)));
  } finally {
    l.close();
  }
});

Deno.test("--json: stale plan, held lock, expected hash, import conflict and invalid plan", async () => {
  const home = await tempHome();
  const plan = await planStandalone(home, freePorts(1)[0]);
  const clusterDir = path.join(home, "storage", "clusters", "c1");
  const apply = (extra: string[] = []) =>
    mup(["plan", "apply", plan.plan_id, "--auto-approve", "--json", ...extra], { home });

  const hash = errorDoc(await apply(["--expect-hash", "sha256:" + "0".repeat(64)]), "hash");
  assert.equal(hash.check, "expect_hash");
  assert.equal(hash.actual, plan.content_hash);

  const lockDir = path.join(clusterDir, "state");
  await Deno.mkdir(lockDir, { recursive: true });
  await Deno.writeTextFile(
    path.join(lockDir, "lock.json"),
    JSON.stringify({
      format_version: 1,
      id: "l1",
      operation: "apply plan-x",
      who: "someone@here",
      host: Deno.hostname(),
      pid: Deno.pid, // this test process: alive, so the lock is held
      created: new Date().toISOString(),
      state_id: "apply-1234abcd",
    }),
  );
  const locked = errorDoc(await apply(), "lock held");
  assert.equal(locked.check, "lock_held");
  assert.equal(locked.state_id, "apply-1234abcd");
  await Deno.remove(path.join(lockDir, "lock.json"));

  await writeMeta(clusterDir, {
    format_version: 1,
    name: "c1",
    lineage: "l",
    serial: 3,
    status: "running",
    kind: plan.kind,
    version: plan.version,
    variant: plan.variant,
    deploy_dir: plan.deploy_dir,
    connection_string: "mongodb://x",
    topology: plan.topology,
    processes: [],
    created_at: plan.created_at,
    updated_at: plan.created_at,
    last_plan_id: "plan-0",
    last_state_id: "apply-0",
  });
  const stale = errorDoc(await apply(), "stale");
  assert.equal(stale.check, "stale_plan");
  assert.match(stale.error, /Saved plan is stale/);

  // Import of another plan under this plan's ID; then an edited plan file.
  const file = path.join(home, "storage", "clusters", "c1", "plans", `${plan.plan_id}.json`);
  const text = await Deno.readTextFile(file);
  const other = await tempHome();
  const otherPlan = await planStandalone(other, freePorts(1)[0]);
  const otherText = (await Deno.readTextFile(
    path.join(other, "storage", "clusters", "c1", "plans", `${otherPlan.plan_id}.json`),
  )).replaceAll(otherPlan.plan_id, plan.plan_id).replaceAll(other, home); // placed in this store
  const { sealPlanText } = await import("../lib/plan/hash.ts");
  const { content_hash: _, ...unsealed } = JSON.parse(otherText) as Plan;
  const conflict = errorDoc(
    await mup(["plan", "import", "--json"], { home, stdin: sealPlanText(unsealed).text }),
    "import conflict",
  );
  assert.equal(conflict.plan_id, plan.plan_id);
  const edited = path.join(home, "edited.json");
  await Deno.writeTextFile(edited, text.replace('"dry_run": false', '"dry_run": true'));
  const invalid = errorDoc(await mup(["plan", "validate", edited, "--json"], { home }), "validate");
  assert.equal(invalid.valid, false);
  assert.ok((invalid.issues as unknown[]).length > 0);
  // An edited plan imported: refused with a hint too (tester38 L3).
  const badImport = errorDoc(
    await mup(["plan", "import", "--json"], { home, stdin: await Deno.readTextFile(edited) }),
    "import of an edited plan",
  );
  assert.match(String(badImport.error), /nothing was imported/);
  assert.match(String(badImport.hint), /`mup plan export <plan-id>` wrote, unchanged/);
});

Deno.test("--json: a hook failure, at plan time and during apply, names the state", async () => {
  const home = await tempHome();
  const mirror = await testMirror();
  const [port] = freePorts(1);
  try {
    const planHook = await writeTopology(
      home,
      "p.yaml",
      standaloneTopology([port], 'hooks:\n  before_plan: { command: "exit 4" }\n'),
    );
    const p = errorDoc(
      await mup(deployArgs("c1", planHook, mirror, ["--auto-approve", "--json"]), { home }),
      "before_plan",
    );
    assert.equal(p.event, "before_plan");
    const applyHook = await writeTopology(
      home,
      "a.yaml",
      standaloneTopology([port], 'hooks:\n  before_apply: { command: "exit 3" }\n'),
    );
    const r = await mup(deployArgs("c2", applyHook, mirror, ["--auto-approve", "--json"]), {
      home,
    });
    const d = errorDoc(r, "before_apply", true);
    assert.match(String(d.state_id), /^apply-/);
    assert.equal(d.status, "failed");
    assert.match(d.error, /before_apply|hook/);
    // The same failure again through resume: one error document at the end of its stream.
    const again = errorDoc(
      await mup(["plan", "resume", "c2", "--json"], { home }),
      "resume",
      true,
    );
    assert.equal(again.state_id, d.state_id);
  } finally {
    await killAll(home);
  }
});

Deno.test("--json: a port taken before the apply is refused with the check and its issues; one taken during it fails the safety check, named with the operation and the state", async () => {
  const home = await tempHome();
  const [port] = freePorts(1);
  const start = `start-mongod-localhost-${port}`;
  const taken = portTakenBefore(home, start, port);
  try {
    const plan = await planStandalone(home, port, taken.hooks);
    let l = Deno.listen({ hostname: "127.0.0.1", port });
    try {
      const r = await mup(["plan", "apply", plan.plan_id, "--auto-approve", "--json"], { home });
      const d = errorDoc(r, "taken since it was made", false);
      assert.equal(d.check, "start_ports_available");
      const issues = d.issues as { code: string; message: string }[];
      assert.equal(issues[0].code, "port_in_use", JSON.stringify(d));
      assert.match(issues[0].message, new RegExp(`is held by PID ${Deno.pid}`));
    } finally {
      l.close();
    }
    const child = spawnMup(["plan", "apply", plan.plan_id, "--auto-approve", "--json"], home);
    l = await taken.take();
    try {
      const out = await child.output();
      const dec = new TextDecoder();
      const r = { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
      const d = errorDoc(r, "safety check", true);
      const checks = d.checks as { check_type: string; operation: string }[];
      assert.equal(checks[0].check_type, "port_available");
      assert.equal(d.operation, start);
      assert.match(String(d.state_id), /^apply-/);
      const state = await readJson(
        path.join(home, "storage", "clusters", "c1", "state", `${d.state_id}.json`),
      );
      assert.equal(state.state_id, d.state_id);
    } finally {
      l.close();
    }
  } finally {
    await killAll(home);
  }
});

Deno.test("--json: an interrupted apply ends its stream with an error document naming the saved state", async () => {
  const home = await tempHome();
  const marker = path.join(home, "hook-started");
  try {
    const plan = await planStandalone(
      home,
      freePorts(1)[0],
      `hooks:\n  before_phase: { command: "touch ${marker}; sleep 4", phase: prepare }\n`,
    );
    const child = spawnMup(["plan", "apply", plan.plan_id, "--auto-approve", "--json"], home);
    const until = Date.now() + deadline(60_000);
    while (!(await Deno.lstat(marker).then(() => true, () => false))) {
      if (Date.now() > until) throw new Error("the hook never started");
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill("SIGINT");
    const out = await child.output();
    const r = {
      code: out.code,
      stdout: new TextDecoder().decode(out.stdout),
      stderr: new TextDecoder().decode(out.stderr),
    };
    const d = errorDoc(r, "interrupt", true);
    assert.equal(d.interrupted, true);
    assert.equal(d.status, "paused");
    assert.match(String(d.state_id), /^apply-/);
    // Nothing failed: the hint resumes it, with no "cause" to fix first.
    assert.match(String(d.hint), /^resume it with `mup plan resume c1`; /);
    assert.doesNotMatch(String(d.hint), /cause/);

    // A second Ctrl-C stops at once (exit 130): still one error document, naming the state.
    await Deno.remove(marker);
    const again = spawnMup(["plan", "resume", "c1", "--json"], home);
    while (!(await Deno.lstat(marker).then(() => true, () => false))) {
      if (Date.now() > until + deadline(60_000)) throw new Error("the hook never started again");
      await new Promise((r) => setTimeout(r, 50));
    }
    const { err, stderr } = await pressCtrlCTwice(again);
    const stdout = await new Response(again.stdout).text();
    const status = await again.status;
    await stderr.cancel().catch(() => {});
    const twice = errorDoc({ code: status.code, stdout, stderr: err }, "interrupted twice", true);
    assert.equal(status.code, 130, output(status));
    assert.equal(twice.interrupted, true);
    assert.equal(twice.state_id, d.state_id);
  } finally {
    await killAll(home);
  }
});

Deno.test("plan show prints the content hash a reviewer approves; --expect-hash applies that plan and no other", async () => {
  const home = await tempHome();
  try {
    const plan = await planStandalone(home, freePorts(1)[0]);
    const show = await mup(["plan", "show", plan.plan_id], { home });
    assert.match(show.stdout, new RegExp(`Content hash: ${plan.content_hash}`));
    const wrong = await mup(
      [
        "plan",
        "apply",
        plan.plan_id,
        "--expect-hash",
        "sha256:" + "f".repeat(64),
        "--auto-approve",
      ],
      { home },
    );
    assert.equal(wrong.code, 1, output(wrong));
    assert.match(wrong.stderr, /not the expected sha256:f{64}; refusing to apply/);
    const stateDir = path.join(home, "storage", "clusters", "c1", "state");
    assert.equal(await Deno.lstat(stateDir).then(() => true, () => false), false, "not applied");
    // The reviewed hash, as a reviewer may paste it (without the sha256: prefix).
    const right = await mup(
      [
        "plan",
        "apply",
        plan.plan_id,
        "--expect-hash",
        plan.content_hash.slice(7),
        "--auto-approve",
      ],
      { home },
    );
    assert.equal(right.code, 0, right.stdout + right.stderr);
  } finally {
    await killAll(home);
  }
});

Deno.test("a mirror of a scheme mup cannot read (ftp://), from --mirror or $MUP_MIRROR, is refused naming it and where mup takes it from, not read as a path", async () => {
  const home = await tempHome();
  try {
    const file = await writeTopology(
      home,
      "m.yaml",
      "mongod_servers:\n  - { host: localhost, port: 41999 }\n",
    );
    const r = await mup(
      deployArgs("m1", file, "ftp://mirror.example/mongodb", ["--plan-only", "--json"]),
      {
        home,
      },
    );
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.error, "mirror ftp://mirror.example/mongodb: mup cannot read ftp:// URLs");
    // From the environment, the same: the hint does not send the operator to a --mirror they
    // never gave (tester110 #6).
    const env = await mup(
      ["cluster", "deploy", "m1", file, "--version", "7.0", "--plan-only", "--json"],
      { home, env: { MUP_MIRROR: "ftp://mirror.example/mongodb" } },
    );
    assert.equal(env.code, 1, env.stdout + env.stderr);
    const envDoc = JSON.parse(env.stdout);
    assert.equal(envDoc.error, doc.error);
    assert.match(
      envDoc.hint,
      /\(--mirror, else \$MUP_MIRROR, else the one recorded with the cluster\)/,
    );
  } finally {
    await killAll(home);
  }
});

Deno.test("--json usage error: the error document on stdout, and no text version of it on stderr", async () => {
  const home = await tempHome();
  try {
    const r = await mup(["state", "list", "c1", "--jsn", "--json"], { home });
    assert.equal(r.code, 1);
    assert.equal(JSON.parse(r.stdout).code, "commander.unknownOption");
    assert.equal(r.stderr, "", "stderr stays empty");
    const text = await mup(["state", "list", "c1", "--jsn"], { home });
    assert.match(text.stderr, /^Error: unknown option '--jsn'/);
  } finally {
    await killAll(home);
  }
});

Deno.test("--dry-run with --plan-only or --plan-file is refused, naming both (a dry run saves nothing)", async () => {
  const home = await tempHome();
  for (const other of [["--plan-only"], ["--plan-file", "p.json"]]) {
    const r = await mup(["cluster", "stop", "c1", "--dry-run", ...other], { home });
    assert.equal(r.code, 1, output(r));
    assert.match(
      r.stderr,
      new RegExp(`option '--dry-run' cannot be used with option '${other[0]}`),
      output(r),
    );
  }
});
