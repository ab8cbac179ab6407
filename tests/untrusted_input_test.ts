/**
 * Untrusted and extreme input (issue 12): hostile topologies and plans, path traversal through
 * every identifier, YAML that explodes, durations at and beyond their bounds. Every bad file
 * must end in exit 1 with a located message, no stack trace, no "bug in mup", and nothing
 * written outside the run's MUP_HOME. (How fast they fail is measured by
 * `deno task bench input`, not asserted here.)
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { parseTopology, TopologyError } from "../lib/topology/load.ts";
import { sealPlanText } from "../lib/plan/hash.ts";
import type { Plan } from "../lib/plan/schema.ts";
import {
  freePorts,
  mup,
  type MupResult,
  output,
  planSharded,
  ROOT,
  tempHome,
  testMirror,
} from "./helpers.ts";
import { hostileTopologies, mutatedTopologies } from "./untrusted_corpus.ts";
import { installFixture, tempDir } from "./fixture.ts";

installFixture();

const CORPUS = path.join(ROOT, "tests", "corpus", "topology");
const DENO_DIR = Deno.env.get("DENO_DIR") ??
  path.join(Deno.env.get("HOME") ?? "/root", ".cache", "deno");

/**
 * A run's whole world in one directory: MUP_HOME, HOME, TMPDIR, the working directory and the
 * input files. `outside()` lists every file that appeared anywhere but in MUP_HOME and the input.
 */
async function sandbox() {
  const root = await tempDir("mup-untrusted-");
  const dir = (n: string) => path.join(root, n);
  for (const d of ["mup-home", "user", "tmp", "cwd", "input"]) await Deno.mkdir(dir(d));
  const env = { HOME: dir("user"), TMPDIR: dir("tmp"), DENO_DIR };
  return {
    root,
    home: dir("mup-home"),
    input: dir("input"),
    run: (args: string[], stdin?: string): Promise<MupResult> =>
      mup(args, { home: dir("mup-home"), env, cwd: dir("cwd"), stdin }),
    async outside(): Promise<string[]> {
      const found: string[] = [];
      const walk = async (d: string) => {
        for await (const e of Deno.readDir(d)) {
          const p = path.join(d, e.name);
          if (p === dir("mup-home") || p === dir("input")) continue;
          if (e.isDirectory) await walk(p);
          else found.push(path.relative(root, p));
        }
      };
      await walk(root);
      return found;
    },
    cleanup: () => Deno.remove(root, { recursive: true }).catch(() => {}),
  };
}

function assertCleanFailure(r: MupResult, what: string): void {
  const all = r.stdout + r.stderr;
  assert.equal(r.code, 1, `${what}: exit code ${r.code}\n${all}`);
  assert.doesNotMatch(all, /bug in mup/i, what);
  assert.doesNotMatch(all, /^\s+at .+:\d+:\d+\)?$/m, `${what}: a stack trace`);
}

/** `file:line:column: error:` with the file named as given. */
function assertLocated(text: string, file: string, what: string): void {
  const f = file.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  assert.match(
    text,
    new RegExp(`${f}:\\d+:\\d+: error: `),
    `${what}: no located error in\n${text}`,
  );
}

Deno.test("hostile topology corpus: each file exits 1 with a located error, no stack trace, nothing written outside MUP_HOME", async () => {
  const box = await sandbox();
  try {
    const mirror = await testMirror();
    const files: string[] = [];
    for await (const e of Deno.readDir(CORPUS)) {
      const to = path.join(box.input, e.name);
      await Deno.copyFile(path.join(CORPUS, e.name), to);
      files.push(to);
    }
    // Generated here: too big to keep in the repository.
    for (const [name, text] of Object.entries(hostileTopologies())) {
      const to = path.join(box.input, name);
      await Deno.writeTextFile(to, text);
      files.push(to);
    }
    assert.ok(files.length >= 20, `corpus of ${files.length} files`);
    for (const file of files.sort()) {
      const name = path.basename(file);
      const deploy = await box.run([
        "cluster",
        "deploy",
        "c1",
        file,
        "--version",
        "7.0",
        "--mirror",
        mirror,
        "--plan-only",
      ]);
      assertCleanFailure(deploy, `deploy ${name}`);
      assertLocated(deploy.stderr, file, `deploy ${name}`);
      const json = await box.run(["topology", "validate", file, "--json"]);
      assertCleanFailure(json, `topology validate --json ${name}`);
      const doc = JSON.parse(json.stdout);
      assert.equal(doc.type, "error", name);
      assert.ok(doc.issues[0].location.line >= 1, `${name}: issue located`);
    }
    assert.deepEqual(await box.outside(), [], "files written outside MUP_HOME");
    // Nothing planned either: every file was refused before a plan was made.
    const plans = await box.run(["plan", "list", "--json"]);
    assert.deepEqual(JSON.parse(plans.stdout), []);
  } finally {
    await box.cleanup();
  }
});

Deno.test("generated mutations of the examples never crash the loader: each is valid or a located TopologyError", async () => {
  let refused = 0;
  for (const [name, text] of mutatedTopologies(400)) {
    try {
      await parseTopology(text, name);
    } catch (e) {
      assert.ok(e instanceof TopologyError, `${name}: ${e}\n${text}`);
      for (const i of e.issues.filter((i) => i.code !== "more_problems")) {
        assert.equal(i.location.file, name);
        assert.ok(i.location.line! >= 1 && i.location.column! >= 1, `${name}: ${i.message}`);
      }
      refused++;
    }
  }
  assert.ok(refused > 100, `only ${refused} of 400 mutations were refused`);
});

/** A real plan, changed and resealed so that its content hash is valid again. */
function reseal(plan: Plan, change: (p: Record<string, unknown> & Plan) => void): string {
  const copy = structuredClone(plan) as Record<string, unknown> & Plan;
  change(copy);
  const { content_hash: _, ...unsealed } = copy;
  return sealPlanText(unsealed).text;
}

Deno.test("hostile resealed plans: identifiers and values out of bounds are refused by validate, import and apply, nothing written outside", async () => {
  const box = await sandbox();
  try {
    // Planned in the sandbox's MUP_HOME, so the plan's own store paths lie inside it.
    const { plan } = await planSharded(box.home, freePorts(10));
    const hook = {
      name: "h",
      event: "before_apply" as const,
      command: "touch EVIL-HOOK",
      timeout_ms: 1000,
      environment: {},
      continue_on_error: false,
      working_dir: "/tmp",
    };
    const hostile: Record<string, [string, (p: Plan) => void]> = {
      plan_id_traversal: ["plan_id", (p) => p.plan_id = "../../../../../EVIL"],
      plan_id_slash: ["plan_id", (p) => p.plan_id = "a/b"],
      cluster_traversal: ["cluster_name", (p) => p.cluster_name = "../../EVIL"],
      cluster_dotdot: ["cluster_name", (p) => p.cluster_name = ".."],
      host_traversal: [
        "host",
        (p) => p.phases[1].operations[0].target.host = "../../EVIL",
      ],
      process_name_slash: [
        "name",
        (p) => {
          const op = p.phases.flatMap((ph) => ph.operations).find((o) =>
            o.target.type === "process"
          )!;
          op.target.name = "mongod-x/../../EVIL-1";
        },
      ],
      hook_timeout_zero: ["timeout_ms", (p) => p.hooks = [{ ...hook, timeout_ms: 0 }]],
      hook_timeout_huge: ["timeout_ms", (p) => p.hooks = [{ ...hook, timeout_ms: 1e20 }]],
      hook_timeout_overflow: [
        "timeout_ms",
        (p) => p.hooks = [{ ...hook, timeout_ms: 2 ** 31 }],
      ],
    };
    for (const [name, [field, change]] of Object.entries(hostile)) {
      const text = reseal(plan, change);
      const file = path.join(box.input, `${name}.json`);
      await Deno.writeTextFile(file, text);
      const v = await box.run(["plan", "validate", file]);
      assertCleanFailure(v, `validate ${name}`);
      assert.match(v.stdout, new RegExp(`${field}: `), `validate ${name} names ${field}`);
      const imp = await box.run(["plan", "import"], text);
      assertCleanFailure(imp, `import ${name}`);
      assert.match(imp.stderr, /nothing was imported/, name);
      const apply = await box.run(["plan", "apply", file, "--auto-approve"]);
      assertCleanFailure(apply, `apply ${name}`);
    }
    // Schema-valid plans whose store paths point elsewhere: refused when the plan is loaded
    // (plan_store; the operations refuse them too, when they run).
    // (The install reads from the download's directory, as plan validation requires.)
    const escaping = reseal(plan, (p) => {
      const dl = p.phases[0].operations.find((o) => o.type === "download_binary")!;
      dl.target.params.archive = path.join(box.root, "EVIL.tgz");
      dl.target.params.extract_dir = path.join(box.root, "EVIL");
      p.phases[0].operations.find((o) => o.target.params.kind === "binaries")!.target.params
        .source_dir = path.join(box.root, "EVIL", "bin");
    });
    const file = path.join(box.input, "escaping.json");
    await Deno.writeTextFile(file, escaping);
    const apply = await box.run(["plan", "apply", file, "--auto-approve"]);
    assertCleanFailure(apply, "apply escaping");
    assert.match(
      apply.stdout + apply.stderr,
      /operation download-\S+'s archive \S+EVIL\.tgz is not in this store/,
    );
    assert.deepEqual(await box.outside(), [], "files written outside MUP_HOME");
    assert.equal(await exists(path.join(box.root, "EVIL.json")), false);
  } finally {
    await box.cleanup();
  }
});

async function exists(p: string): Promise<boolean> {
  return await Deno.lstat(p).then(() => true, () => false);
}

Deno.test("path traversal through every identifier of every command is refused, naming the identifier", async () => {
  const box = await sandbox();
  try {
    const mirror = await testMirror();
    const topo = path.join(box.input, "t.yaml");
    await Deno.writeTextFile(topo, "mongod_servers:\n  - { host: localhost, port: 0 }\n");
    const bad = ["../../EVIL", "..", ".hidden", "x\ny"];
    const commands: [string, (v: string) => string[]][] = [
      [
        "cluster name",
        (v) => ["cluster", "deploy", v, topo, "--version", "7.0", "--mirror", mirror],
      ],
      ["plan ID or cluster name", (v) => ["plan", "show", v]],
      ["plan ID or cluster name", (v) => ["plan", "export", v]],
      ["plan ID or cluster name", (v) => ["plan", "graph", v]],
      ["plan ID or cluster name", (v) => ["plan", "validate", v]],
      ["plan ID or cluster name", (v) => ["plan", "apply", v, "--auto-approve"]],
      ["plan ID", (v) => ["plan", "apply", "--plan-id", v, "--auto-approve"]],
      ["plan ID", (v) => ["plan", "delete", v]],
      ["cluster name", (v) => ["plan", "list", v]],
      ["plan ID or cluster name", (v) => ["plan", "diff", v]],
      ["cluster name", (v) => ["plan", "resume", v]],
      ["state ID", (v) => ["plan", "resume", "--state-id", v]],
      ["cluster name", (v) => ["state", "show", v]],
      ["state ID", (v) => ["state", "show", "--state-id", v]],
      ["cluster name", (v) => ["state", "list", v]],
      ["cluster name", (v) => ["state", "checkpoints", v]],
      ["state ID", (v) => ["state", "checkpoints", "--state-id", v]],
      ["cluster name", (v) => ["state", "unlock", v, "--force"]],
    ];
    for (const [kind, args] of commands) {
      for (const v of bad) {
        // Paths with '/' are plan files to the commands that take a plan file: not identifiers.
        if (kind === "plan ID or cluster name" && v.includes("/")) continue;
        const argv = args(v);
        const r = await box.run([...argv, "--json"]);
        const what = argv.join(" ");
        assertCleanFailure(r, what);
        const doc = JSON.parse(r.stdout);
        assert.equal(doc.type, "error", what);
        assert.match(doc.error, new RegExp(`^invalid ${kind} `), `${what}: ${doc.error}`);
        assert.deepEqual(doc.invalid, { kind, value: v }, what);
      }
    }
    assert.deepEqual(await box.outside(), []);
  } finally {
    await box.cleanup();
  }
});

Deno.test("state and metadata files with traversal identifiers are refused as damaged", async () => {
  const box = await sandbox();
  try {
    const state = path.join(box.home, "storage", "clusters", "c1", "state");
    await Deno.mkdir(state, { recursive: true });
    await Deno.writeTextFile(
      path.join(state, "apply-1.json"),
      JSON.stringify({
        format_version: 1,
        state_id: "../../../../EVIL",
        plan_id: "plan-1",
        plan_path: "/x",
        plan_hash: "sha256:0",
        cluster_name: "c1",
        operation: "deploy",
        status: "failed",
        started_at: "2026-01-01T00:00:00Z",
        updated_at: "2026-01-01T00:00:00Z",
        current_phase: "prepare",
        phase_states: {},
        operation_states: {},
        checkpoints: [],
        errors: [],
        execution_log: [],
        journal_seq: 0,
      }),
    );
    await Deno.symlink("apply-1.json", path.join(state, "current-apply.json"));
    const r = await box.run(["state", "show", "c1"]);
    assertCleanFailure(r, "state show");
    assert.match(r.stderr, /is damaged: state_id: must be letters, digits/);
    const resume = await box.run(["plan", "resume", "c1", "--json"]);
    assertCleanFailure(resume, "plan resume");
    assert.equal(JSON.parse(resume.stdout).type, "error");
    assert.deepEqual(await box.outside(), []);
  } finally {
    await box.cleanup();
  }
});

Deno.test("plan import: the same plan again is a no-op; another plan under a stored plan's ID is refused, naming both", async () => {
  const home = await tempHome();
  const a = await planSharded(home, freePorts(10), "c1");
  const text = await Deno.readTextFile(a.path);
  const again = await mup(["plan", "import", "--json"], { home, stdin: text });
  assert.equal(again.code, 0, output(again));
  assert.deepEqual(JSON.parse(again.stdout), {
    imported: a.plan_id,
    path: a.path,
    unchanged: true,
  });
  // Another plan (other ports), resealed under the first one's ID.
  const b = await planSharded(home, freePorts(10), "c2");
  const forged = reseal(b.plan, (p) => p.plan_id = a.plan_id);
  const r = await mup(["plan", "import"], { home, stdin: forged });
  assertCleanFailure(r, "import under an existing ID");
  assert.match(r.stderr, new RegExp(`plan ${a.plan_id} is already stored as ${a.path}`));
  assert.match(r.stderr, new RegExp(a.plan.content_hash));
  assert.match(r.stderr, /cluster c2\) was not imported/);
  assert.equal(await Deno.readTextFile(a.path), text, "the stored plan is unchanged");
  // Nor is it applied from its file: the apply history would name the stored plan (tester43).
  const file = path.join(home, "forged.json");
  await Deno.writeTextFile(file, forged);
  const applied = await mup(["plan", "apply", file, "--auto-approve"], { home });
  assertCleanFailure(applied, "plan apply");
  assert.match(
    applied.stderr,
    new RegExp(`holds a plan with ID ${a.plan_id}, but not the plan stored under that ID`),
  );
  const shown = await mup(["plan", "show", file], { home });
  assert.equal(shown.code, 0, "it can be read");
  assert.match(
    shown.stdout,
    /Note: apply refuses it now \(its plan ID names another stored plan\)/,
  );
  const validated = JSON.parse((await mup(["plan", "validate", file, "--json"], { home })).stdout);
  assert.deepEqual([validated.valid, validated.applicable, validated.reason], [
    true,
    false,
    "id_taken",
  ]);
});

Deno.test("a link in the store pointing outside it is refused before anything is written through it", async () => {
  const box = await sandbox();
  try {
    // A plan made in this store, then its cluster's directory replaced by a link to one
    // outside it.
    const { plan, path: file } = await planSharded(box.home, freePorts(10), "c1");
    const text = await Deno.readTextFile(file);
    await Deno.remove(path.join(box.home, "storage", "clusters", "c1"), { recursive: true });
    const elsewhere = path.join(box.root, "elsewhere");
    await Deno.mkdir(elsewhere);
    await Deno.mkdir(path.join(box.home, "storage", "clusters"), { recursive: true });
    await Deno.symlink(elsewhere, path.join(box.home, "storage", "clusters", "c1"));
    const r = await box.run(["plan", "import"], text);
    assertCleanFailure(r, "import through a link");
    assert.match(r.stderr, /refusing to write .*: it lies outside mup's store/);
    assert.deepEqual([...Deno.readDirSync(elsewhere)], [], `nothing written for ${plan.plan_id}`);
  } finally {
    await box.cleanup();
  }
});
