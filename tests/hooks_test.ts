import assert from "node:assert/strict";
import * as path from "node:path";
import { apply } from "../lib/apply/applier.ts";
import { Emitter } from "../lib/apply/events.ts";
import { PlainRenderer } from "../lib/render/apply_plain.ts";
import { MockExecutor } from "../lib/executor/mock.ts";
import { type Hook, HOOK_EVENTS, type HookEvent } from "../lib/hooks/schema.ts";
import { runHook } from "../lib/hooks/runner.ts";
import { StateStore } from "../lib/state/store.ts";
import { unfinishedApplyWarning } from "../lib/state/undeployed.ts";
import {
  deployArgs,
  freePorts,
  killAll,
  mup,
  output,
  portFree,
  replicaSetTopology,
  standaloneTopology,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { syntheticPlan } from "./synthetic.ts";
import { allOperations } from "../lib/plan/schema.ts";
import { ok } from "./lifecycle_helpers.ts";
import { currentState } from "./apply_helpers.ts";
import { installFixture, tempDir } from "./fixture.ts";

installFixture();

function hook(event: HookEvent, command: string, extra: Partial<Hook> = {}): Hook {
  return {
    name: event,
    event,
    command,
    timeout_ms: 10_000,
    environment: {},
    continue_on_error: false,
    working_dir: "/tmp",
    ...extra,
  };
}

/** A hook that appends one line per firing: event, phase, operation, and the context variables. */
const RECORD = (file: string) =>
  `echo "$MUP_HOOK_EVENT|$MUP_PHASE|$MUP_OPERATION_ID|$MUP_CLUSTER_NAME|$MUP_OPERATION|$MUP_PLAN_ID|$MUP_STATE_ID|$MUP_PLAN_PATH|$MUP_STATE_PATH|$MUP_OPERATION_TYPE|$MUP_OPERATION_HOST|$MUP_ERROR|$MUP_OPERATION_TARGET_TYPE|$MUP_OPERATION_TARGET" >> ${file}`;

async function runSynthetic(
  hooks: Hook[],
  opts: { fail?: string; parallelism?: number; printed?: string[] } = {},
) {
  const plan = syntheticPlan(2, 2, 1, hooks);
  const mock = new MockExecutor();
  if (opts.fail) mock.failPaths.add(opts.fail);
  const store = new StateStore(path.join(await tempDir(), "clusters", "synthetic"));
  const emitter = new Emitter();
  // What the plain renderer (CI, pipes) prints, when the test wants to read it.
  if (opts.printed) emitter.on(new PlainRenderer((l) => opts.printed!.push(l)).handle);
  const o = {
    plan,
    planPath: "/plans/p.json",
    store,
    executors: mock,
    parallelism: opts.parallelism ?? 1,
    emitter,
    onSafetyFailure: () => Promise.resolve("abort" as const),
  };
  return { state: await apply(o), o, mock, store };
}

async function lines(file: string): Promise<string[][]> {
  return (await Deno.readTextFile(file)).trim().split("\n").map((l) => l.split("|"));
}

Deno.test("apply hooks fire in order with the HookContext in the environment", async () => {
  const dir = await tempDir();
  const log = path.join(dir, "events");
  // Every event that fires during an apply (before_plan and after_plan fire at plan time).
  const events: HookEvent[] = HOOK_EVENTS.filter((e) => !e.endsWith("_plan"));
  const { state, store } = await runSynthetic(events.map((e) => hook(e, RECORD(log))));
  assert.equal(state.status, "completed");
  const got = await lines(log);
  assert.deepEqual(got.map((l) => [l[0], l[1], l[2]].join(" ").trim()), [
    "before_apply",
    "before_phase prepare",
    "before_operation prepare prepare-0-0",
    "after_operation prepare prepare-0-0",
    "before_operation prepare prepare-1-0",
    "after_operation prepare prepare-1-0",
    "after_phase prepare",
    "before_phase deploy",
    "before_operation deploy deploy-0-0",
    "after_operation deploy deploy-0-0",
    "before_operation deploy deploy-1-0",
    "after_operation deploy deploy-1-0",
    "after_phase deploy",
    "after_apply",
    "on_success",
  ]);
  const [, , , cluster, operation, planId, stateId, planPath, statePath, opType, opHost] = got[2];
  assert.deepEqual([cluster, operation, planId, stateId, planPath], [
    "synthetic",
    "deploy",
    "plan-synthetic",
    state.state_id,
    "/plans/p.json",
  ]);
  assert.equal(statePath, store.snapshotPath(state.state_id));
  assert.deepEqual([opType, opHost], ["create_directory", "mock"]);
  // What it acts on, by kind and name.
  const first = allOperations(syntheticPlan(2, 2, 1)).find((o) => o.id === "prepare-0-0")!;
  assert.deepEqual(got[2].slice(12), [first.target.type, first.target.name]);
  // Output goes into the execution log.
  assert.ok(
    state.execution_log.some((e) => /hook before_apply exited with 0/.test(e.message)),
  );
});

Deno.test("phase hooks can be scoped to one phase; hooks get their own environment", async () => {
  const dir = await tempDir();
  const log = path.join(dir, "events");
  await runSynthetic([
    hook("after_phase", `echo "$MUP_PHASE $GREETING" >> ${log}`, {
      phase: "deploy",
      environment: { GREETING: "hi" },
    }),
  ]);
  assert.equal((await Deno.readTextFile(log)).trim(), "deploy hi");
});

Deno.test("a failing hook stops the apply: on_error runs with the error, the state is failed, resume completes", async () => {
  const dir = await tempDir();
  const log = path.join(dir, "events");
  const flag = path.join(dir, "fixed");
  const hooks = [
    hook("after_phase", `test -f ${flag} || { echo "not yet" >&2; exit 3; }`, { phase: "prepare" }),
    hook("on_error", RECORD(log)),
    hook("on_success", RECORD(log)),
  ];
  const printed: string[] = [];
  const { state, o } = await runSynthetic(hooks, { printed });
  assert.equal(state.status, "failed");
  assert.match(state.errors.at(-1)!.error, /hook after_phase of phase prepare exited with 3/);
  // A resume runs the hook as recorded: the output says how to change it.
  assert.match(
    printed.join("\n"),
    /To resume: mup plan resume \S+\nThe failed hook runs again on resume\. To change or remove it, edit the hooks in \S+ and plan again: `mup cluster deploy \S+ \S+ --version \S+`/,
  );
  assert.ok(
    state.execution_log.some((e) => /exited with 3; output:\nnot yet/.test(e.message)),
    "hook output is in the execution log",
  );
  const onError = await lines(log);
  assert.equal(onError.length, 1);
  assert.equal(onError[0][0], "on_error");
  assert.match(
    onError[0][11],
    /hook after_phase of phase prepare exited with 3/,
    "MUP_ERROR carries the error",
  );
  await Deno.writeTextFile(flag, "");
  const resumed = await apply(o, await o.store.load(state.state_id));
  assert.equal(resumed.status, "completed");
  assert.deepEqual((await lines(log)).map((l) => l[0]), ["on_error", "on_success"]);
});

Deno.test("a failed after_apply hook is said as such: every operation completed (tester41 L4)", async () => {
  const dir = await tempDir();
  const flag = path.join(dir, "fixed");
  const { state, o } = await runSynthetic([
    hook("after_apply", `test -f ${flag} || exit 4`),
  ]);
  assert.equal(state.status, "failed");
  assert.ok(Object.values(state.operation_states).every((s) => s.status === "completed"));
  const warning = await unfinishedApplyWarning(o.store.clusterDir, "synthetic");
  assert.match(
    warning!.message,
    /^apply \S+ \(deploy\) failed in its after_apply hook, after every operation completed: .*`mup plan resume synthetic` completes it instead/,
  );
  await Deno.writeTextFile(flag, "");
  const resumed = await apply(o, await o.store.load(state.state_id));
  assert.equal(resumed.status, "completed");
  assert.equal(await unfinishedApplyWarning(o.store.clusterDir, "synthetic"), undefined);
});

Deno.test("continue_on_error lets the apply go on after a failing hook, and says so", async () => {
  const printed: string[] = [];
  const { state } = await runSynthetic([
    hook("before_operation", "exit 1", { continue_on_error: true }),
  ], { printed });
  assert.equal(state.status, "completed");
  assert.match(
    printed.join("\n"),
    /✗ Hook before_operation \[\S+\] exited with 1 \[.+\] \(continue_on_error: the apply goes on\)/,
  );
  assert.ok(state.execution_log.some((e) => /exited with 1/.test(e.message)));
});

Deno.test("an operation's hook shows its command once; a later run shows its line only when it prints, before its output (tester68)", async () => {
  const printed: string[] = [];
  const { state } = await runSynthetic([
    hook("before_operation", "true"),
    hook("after_operation", 'if [ "$MUP_OPERATION_ID" = deploy-1-0 ]; then echo said-it; fi'),
  ], { printed });
  assert.equal(state.status, "completed");
  const text = printed.join("\n");
  assert.equal(text.match(/: true/g)?.length, 1, text);
  assert.match(text, /↪ Hook before_operation \[prepare-0-0\]: true \(runs for every operation/);
  assert.equal(text.match(/↪ Hook before_operation/g)?.length, 1, text);
  // The second hook's later runs are silent but one, which shows its line, then its output.
  assert.match(text, /↪ Hook after_operation \[deploy-1-0\]\n +│ said-it/);
  assert.equal(text.match(/↪ Hook after_operation/g)?.length, 2, text);
});

Deno.test("a hook that times out has its whole process group killed", async () => {
  const dir = await tempDir();
  const pidFile = path.join(dir, "bg.pid");
  const t0 = performance.now();
  const r = await runHook(
    hook("before_apply", `sleep 30 & echo $! > ${pidFile}; sleep 30`, { timeout_ms: 500 }),
    {},
    () => {},
  );
  assert.equal(r.timedOut, true);
  assert.equal(r.code, 124, output(r));
  assert.ok(performance.now() - t0 < 5000, "did not wait for the sleeps");
  const bg = Number((await Deno.readTextFile(pidFile)).trim());
  await new Promise((res) => setTimeout(res, 200));
  const alive = await Deno.readTextFile(`/proc/${bg}/stat`).then(
    (s) => !/\) Z /.test(s),
    () => false,
  );
  assert.equal(alive, false, "the background child of the hook was killed too");
  const { state } = await runSynthetic([hook("before_apply", "sleep 5", { timeout_ms: 300 })]);
  assert.equal(state.status, "failed");
  assert.match(state.errors[0].error, /timed out after 0\.3s; its process group was killed/);
  // An operation's hook that times out names the operation, in the error and on the terminal.
  const printed: string[] = [];
  const op = await runSynthetic([hook("before_operation", "sleep 5", { timeout_ms: 300 })], {
    printed,
  });
  assert.equal(op.state.status, "failed");
  assert.match(
    op.state.errors[0].error,
    /hook before_operation of operation \S+ timed out after 0\.3s/,
  );
  assert.match(printed.join("\n"), /✗ Hook before_operation \[\S+\] timed out; its process group/);
});

Deno.test("a hook that prints without end: the first 1000 lines are shown, then how many more; the execution log keeps its first and last lines, not all of them (tester39)", async () => {
  const shown: string[] = [];
  const r = await runHook(hook("before_apply", "seq 1 300000"), {}, (_s, l) => shown.push(l));
  assert.equal(r.code, 0);
  assert.equal(shown.length, 1001);
  assert.equal(shown[999], "1000");
  assert.equal(
    shown[1000],
    "… 299000 more lines not shown (300000 in all; the execution log keeps the first 100 and " +
      "the last 200)",
  );
  const kept = r.output.split("\n");
  assert.equal(kept.length, 301);
  assert.deepEqual([kept[0], kept[99], kept[100], kept[101], kept[300]], [
    "1",
    "100",
    "… 299700 lines not kept …",
    "299801",
    "300000",
  ]);
  // Through an apply: the state holds what the log keeps, not the 2 MB printed.
  const printed: string[] = [];
  const { state, store } = await runSynthetic([hook("before_apply", "seq 1 300000")], { printed });
  assert.equal(state.status, "completed");
  assert.ok(printed.some((l) => l.includes("… 299000 more lines not shown")));
  const size = (await Deno.stat(store.snapshotPath(state.state_id))).size;
  assert.ok(size < 100_000, `apply state of ${size} bytes`);
});

Deno.test("a hook that prints one endless line: it is cut at 4000 characters as it comes, shown and kept so, with how much more there was (tester41 M3)", async () => {
  const shown: string[] = [];
  const r = await runHook(
    hook("before_apply", "head -c 3000000 /dev/zero | tr '\\0' x; echo; echo next"),
    {},
    (_s, l) => shown.push(l),
  );
  assert.equal(r.code, 0);
  assert.equal(shown.length, 2, shown.map((l) => l.slice(0, 80)).join("\n"));
  assert.equal(shown[0], `${"x".repeat(4000)}… (2996000 more characters of this line not kept)`);
  assert.equal(shown[1], "next");
  assert.ok(r.output.length < 5000, `kept ${r.output.length} characters`);
});

Deno.test("after_operation hooks of two parallel operations both failing: the apply fails naming the first, and the summary names the other too (tester74 #7)", async () => {
  const dir = await tempDir();
  const met = path.join(dir, "met");
  // Each hook waits (bounded) until both have begun, so both fail whatever the scheduling.
  const printed: string[] = [];
  const { state } = await runSynthetic([
    hook(
      "after_operation",
      `echo "$MUP_OPERATION_ID" >> ${met}; i=0; ` +
        `while [ "$(wc -l < ${met})" -lt 2 ] && [ $i -lt 1000 ]; do sleep 0.05; i=$((i+1)); done; ` +
        `echo "gave up on $MUP_OPERATION_ID" >&2; exit 3`,
      { timeout_ms: 60_000 },
    ),
  ], { parallelism: 2, printed });
  assert.equal(state.status, "failed");
  const text = printed.join("\n");
  const first = /Apply failed at phase 1, operation (prepare-[01]-0)\./.exec(text)?.[1];
  assert.ok(first, text);
  const other = first === "prepare-0-0" ? "prepare-1-0" : "prepare-0-0";
  assert.match(text, new RegExp(`Also failed: ${other}: .*exit(ed with)? (code )?3`), text);
  assert.equal(text.match(/Also failed:/g)?.length, 1, text);
});

Deno.test("operation hooks of parallel operations run once per operation, concurrently, within the parallelism limit", async () => {
  const dir = await tempDir();
  const log = path.join(dir, "spans");
  // Each hook waits (up to 50 s) until three have started: three at once is proven by the
  // hooks themselves, not by a sleep that a loaded machine may outlast before the next starts.
  const plan = syntheticPlan(1, 6, 1, [
    hook(
      "before_operation",
      `echo "start $(date +%s%N) $MUP_OPERATION_ID" >> ${log}; i=0; ` +
        `while [ "$(grep -c '^start' ${log})" -lt 3 ] && [ $i -lt 1000 ]; do sleep 0.05; ` +
        `i=$((i+1)); done; echo "end $(date +%s%N) $MUP_OPERATION_ID" >> ${log}`,
      { timeout_ms: 60_000 },
    ),
  ]);
  const store = new StateStore(path.join(dir, "clusters", "synthetic"));
  const st = await apply({
    plan,
    planPath: "/p",
    store,
    executors: new MockExecutor(),
    parallelism: 3,
    onSafetyFailure: () => Promise.resolve("abort"),
  });
  assert.equal(st.status, "completed");
  const ev = (await Deno.readTextFile(log)).trim().split("\n").map((l) => l.split(" ")).map((
    [k, t, id],
  ) => ({ k, t: BigInt(t), id }));
  assert.equal(ev.filter((e) => e.k === "start").length, 6, "once per operation");
  let running = 0, peak = 0;
  for (const e of ev.sort((a, b) => (a.t < b.t ? -1 : a.t > b.t ? 1 : 0))) {
    running += e.k === "start" ? 1 : -1;
    peak = Math.max(peak, running);
  }
  assert.equal(peak, 3);
});

Deno.test("CLI: plan-time hooks, working directory, dry-run schedule; the plan's hooks run even after the topology changes", async () => {
  const home = await tempHome();
  try {
    const [port] = freePorts(1);
    const dir = await tempDir();
    const hooks = `hooks:
  before_plan: { command: "echo before_plan $(pwd) >> events" }
  after_plan: { command: "echo after_plan $MUP_PLAN_ID >> events" }
  before_apply: { command: "echo before_apply >> events", timeout: 900 }
  after_phase: { command: "echo after_phase $MUP_PHASE >> events", phase: finalize }
  on_success: { command: "echo on_success >> events" }
`;
    const topo = await writeTopology(dir, "topo.yaml", standaloneTopology([port], hooks));
    const base = deployArgs("c1", topo, await testMirror());
    const dry = await mup([...base, "--dry-run"], { home });
    assert.equal(dry.code, 0, output(dry));
    assert.match(
      dry.stdout,
      /Hooks configured \(run in \S+\):\n {2}• before_plan: echo before_plan/,
    );
    // Each hook's timeout is in the review; a bare number is milliseconds, and under a second
    // it is said so, with the unit the user probably meant (tester38).
    assert.match(dry.stdout, / {2}• before_apply: echo before_apply >> events \(timeout 900ms\)/);
    assert.match(dry.stdout, / {2}• on_success: echo on_success >> events \(timeout 5m\)/);
    assert.ok(
      dry.stdout.replace(/\s+/g, " ").includes(
        "this hook's timeout, 900, is 900 milliseconds (a number without a unit is milliseconds)",
      ),
      dry.stdout,
    );
    assert.match(
      dry.stdout,
      // Access control (the default) adds the keyfile, the password and its install to Prepare,
      // and the admin user's creation as an Initialize phase.
      /\[Dry-run mode\] Would execute:\n {2}1\. Hook: before_apply \(before_apply\)\n {2}2\. Phase: Prepare \(8 operations\)\n {2}3\. Phase: Deploy \(2 operations\)\n {2}4\. Phase: Initialize \(1 operations\)\n {2}5\. Phase: Finalize \(2 operations\)\n {2}6\. Hook: after_phase \(finalize\)/,
    );
    assert.match(dry.stdout, /No changes were made \(dry-run mode\)/);
    // Each operation with its target, per phase, as the review shows them; then how to apply.
    assert.match(
      dry.stdout,
      new RegExp(`2\\. Deploy \\(estimated: [^)]+\\)\n {5}• Start mongod localhost:${port}\n`),
    );
    assert.match(dry.stdout, /Dry run: plan plan-\w+ was made but not saved\./);
    assert.match(dry.stdout, /^Plan ID: plan-\w+ \(not stored: no command takes it\)$/m);
    assert.match(dry.stdout, /To apply it: run the same command without --dry-run/);
    await assert.rejects(Deno.stat(path.join(dir, "events")), "dry-run runs no hooks");

    const planned = await mup([...base, "--plan-only"], { home });
    assert.equal(planned.code, 0, output(planned));
    assert.match(planned.stdout, /Hooks configured \(run in /);
    const planId = /Plan generated: (plan-\w+)/.exec(planned.stdout)![1];
    // Editing the topology after planning does not change what the plan runs.
    await Deno.writeTextFile(
      topo,
      (await Deno.readTextFile(topo)).replace("echo before_apply", "echo EDITED"),
    );
    const applied = await mup(["plan", "apply", planId, "--auto-approve"], { home, cwd: "/" });
    assert.equal(applied.code, 0, applied.stdout + applied.stderr);
    assert.match(applied.stdout, /↪ Hook before_apply: echo before_apply >> events/);
    const events = (await Deno.readTextFile(path.join(dir, "events"))).trim().split("\n");
    assert.deepEqual(events, [
      `before_plan ${dir}`,
      `after_plan ${planId}`,
      "before_apply",
      "after_phase finalize",
      "on_success",
    ]);
    const show = await mup(["plan", "show", planId], { home });
    assert.match(
      show.stdout,
      /Hooks configured \(run in \S+\):\n {2}• before_plan: echo before_plan/,
    );
    assert.match(show.stdout, / {2}• after_phase \(finalize\): echo after_phase/);
  } finally {
    await killAll(home);
  }
});

Deno.test("CLI: a failing after_plan hook rejects the plan: not kept for a later apply, and said so; the hint names what to change (tester41 M2)", async () => {
  const home = await tempHome();
  try {
    const [port] = freePorts(1);
    const dir = await tempDir();
    const topo = await writeTopology(
      dir,
      "gate.yaml",
      standaloneTopology([port], 'hooks:\n  after_plan: { command: "exit 9" }\n'),
    );
    const r = await mup([...deployArgs("gate", topo, await testMirror()), "--auto-approve"], {
      home,
    });
    assert.equal(r.code, 1, output(r));
    assert.match(
      r.stderr,
      /hook after_plan exited with 9; planning stopped; plan plan-\w+ was not kept/,
    );
    assert.match(r.stderr, /fix the hook in the topology/);
    const listed = JSON.parse((await mup(["plan", "list", "--json"], { home })).stdout);
    assert.deepEqual(listed, [], "no plan is left to apply");
    assert.equal(portFree(port), true, "nothing was started");
    await assert.rejects(Deno.stat(path.join(home, "storage", "clusters", "gate")));
  } finally {
    await killAll(home);
  }
});

Deno.test("CLI: a deploy failed only by its after_apply hook: every process answers, yet display is not settled (exit 1, 2 with --detailed-exitcode) and names the hook; resumed, exit 0 (tester41 L4, tester42)", async () => {
  const home = await tempHome();
  try {
    const [port] = freePorts(1);
    const dir = await tempDir();
    const flag = path.join(dir, "fixed");
    const topo = await writeTopology(
      dir,
      "late.yaml",
      standaloneTopology([port], `hooks:\n  after_apply: { command: "test -f ${flag}" }\n`),
    );
    const r = await mup([...deployArgs("late", topo, await testMirror()), "--auto-approve"], {
      home,
    });
    assert.equal(r.code, 1, output(r));
    const shown = await mup(["cluster", "display", "late"], { home });
    assert.equal(shown.code, 1, output(shown));
    assert.match(shown.stdout, /localhost:\d+ +\S+ +\S+ +(RUNNING|PRIMARY)/);
    assert.match(
      shown.stdout,
      /Note: the last apply \(deploy, apply-\w+\) failed in its after_apply hook, after every operation completed; `mup plan resume late` completes it once its failed hook passes \(`--no-hooks` resumes without the plan's hooks\)/,
    );
    const json = await mup(["cluster", "display", "late", "--json", "--detailed-exitcode"], {
      home,
    });
    assert.equal(json.code, 2, output(json));
    const doc = JSON.parse(json.stdout);
    assert.equal(doc.healthy, true, "its processes answer");
    assert.equal(doc.unfinished_apply.failed_hook, "after_apply");
    await Deno.writeTextFile(flag, "");
    await ok(home, ["plan", "resume", "late"]);
    await ok(home, ["cluster", "display", "late"]);
  } finally {
    await killAll(home);
  }
});

Deno.test("CLI: a re-deploy whose hooks changed is a change (exit 2 with --detailed-exitcode) that records the new hooks; then no changes", async () => {
  const home = await tempHome();
  const [port] = freePorts(1);
  const topo = (say: string) =>
    writeTopology(
      home,
      "hk.yaml",
      standaloneTopology([port], `hooks:\n  before_apply:\n    command: "echo ${say}"\n`),
    );
  const plan = async (code: number) => {
    const r = await mup(
      deployArgs("hk", await topo("two"), await testMirror(), [
        "--plan-only",
        "--detailed-exitcode",
      ]),
      { home },
    );
    assert.equal(r.code, code, output(r));
    return r;
  };
  try {
    const first = await mup(
      deployArgs("hk", await topo("one"), await testMirror(), ["--auto-approve"]),
      {
        home,
      },
    );
    assert.equal(first.code, 0, output(first));
    const changed = await plan(2);
    assert.match(changed.stdout, /Save cluster metadata with the topology's hooks/);
    // plan diff names what changes in the metadata: its hooks.
    const planId = /Plan ID: (plan-\w+)/.exec(changed.stdout)![1];
    const diff = await mup(["plan", "diff", planId], { home });
    assert.match(diff.stdout, /~ file +\S+\/meta\.yaml +\(change: hooks\)/, output(diff));
    const applied = await mup(
      deployArgs("hk", await topo("two"), await testMirror(), ["--auto-approve"]),
      { home },
    );
    assert.equal(applied.code, 0, output(applied));
    const meta = await Deno.readTextFile(path.join(home, "storage/clusters/hk/meta.yaml"));
    assert.match(meta, /command: echo two/);
    assert.match((await plan(0)).stdout, /No changes\. The cluster matches the topology\./);
    // The recorded topology says where its hooks run; saved elsewhere and planned from there,
    // the plan says they move.
    const shown = await mup(["cluster", "show-config", "hk"], { home });
    assert.equal(shown.code, 0, output(shown));
    assert.ok(
      shown.stdout.includes(
        `# its hooks run in ${home} (its topology file's directory); from a file saved ` +
          "elsewhere they run in that file's directory\n",
      ),
      output(shown),
    );
    // Saved elsewhere and planned from there: with nothing to change, nothing is recorded and
    // the hooks stay; a plan that records anything says they move.
    const elsewhere = await tempDir();
    const from = async (text: string) =>
      await mup(
        deployArgs("hk", await writeTopology(elsewhere, "hk.yaml", text), await testMirror(), [
          "--plan-only",
        ]),
        { home },
      );
    const same = await from(shown.stdout);
    assert.match(same.stdout, /No changes\. The cluster matches the topology\./, output(same));
    assert.doesNotMatch(same.stdout, /hooks will run in/, output(same));
    const moved = await from(shown.stdout.replace("echo two", "echo three"));
    assert.equal(moved.code, 0, output(moved));
    assert.ok(
      (moved.stdout + moved.stderr).replace(/\s+/g, " ").includes(
        `the cluster's hooks will run in ${elsewhere} (this topology file's directory), not in ` +
          `${home}, where its topology file ${home}/hk.yaml had them run`,
      ),
      output(moved),
    );
  } finally {
    await killAll(home);
  }
});

Deno.test("CLI: a phase hook is for any plan's phase (a restart's restart-mongod runs in the restart); a misspelt one is said with its guess", async () => {
  const home = await tempHome();
  try {
    const [port] = freePorts(1);
    const dir = await tempDir();
    const hooks = `hooks:
  after_phase:
    - { command: "echo typo >> events", phase: deplyo }
    - { command: "echo restarted $MUP_PHASE >> events", phase: restart-mongod }
`;
    const topo = await writeTopology(dir, "topo.yaml", standaloneTopology([port], hooks));
    const planned = await mup(deployArgs("ph", topo, await testMirror(), ["--plan-only"]), {
      home,
    });
    assert.equal(planned.code, 0, output(planned));
    const said = planned.stdout.replace(/\s+/g, " ");
    assert.ok(
      said.includes(
        "hooks.after_phase[0].phase (topo.yaml:6): this hook is for phase deplyo, which no " +
          "plan of a " +
          'standalone has: it will never run; did you mean "deploy"?',
      ),
      output(planned),
    );
    assert.equal(said.match(/phase deplyo/g)?.length, 1, "said once");
    assert.doesNotMatch(said, /is for phase restart-mongod/, "another plan's phase is no typo");
    await ok(home, deployArgs("ph", topo, await testMirror(), ["--auto-approve"]));
    await assert.rejects(Deno.stat(path.join(dir, "events")), "neither ran in the deploy");
    await ok(home, ["cluster", "restart", "ph", "--auto-approve"]);
    assert.equal(
      (await Deno.readTextFile(path.join(dir, "events"))).trim(),
      "restarted restart-mongod",
    );
  } finally {
    await killAll(home);
  }
});

Deno.test("CLI: a rolling restart stopped by a failing after_operation hook of its step-down: the resume freezes the member, now a secondary, and steps nothing down again (tester75 #3)", async () => {
  const home = await tempHome();
  try {
    const ports = freePorts(3);
    const dir = await tempDir();
    const flag = path.join(dir, "fixed");
    const hooks = `hooks:
  after_operation:
    command: 'case "$MUP_OPERATION_ID" in step-down-*) test -f ${flag} || exit 3;; esac'
`;
    const topo = await writeTopology(dir, "rs.yaml", replicaSetTopology(ports, hooks));
    await ok(home, [...deployArgs("sd", topo, await testMirror()), "--auto-approve"]);
    const failed = await mup(["cluster", "restart", "sd", "--auto-approve"], { home });
    assert.equal(failed.code, 1, output(failed));
    assert.match(output(failed), /hook after_operation of operation step-down-rs0 exited with 3/);
    const before = await currentState(home, "sd");
    assert.match(before.operation_states["step-down-rs0"].result?.output ?? "", /stepped down/);
    await Deno.writeTextFile(flag, "");
    await ok(home, ["plan", "resume", "sd"]);
    const after = await currentState(home, "sd");
    const stepDown = after.operation_states["step-down-rs0"];
    assert.equal(stepDown.executions, 2);
    // The second run found another member primary: replSetFreeze, no replSetStepDown.
    assert.match(
      stepDown.result?.output ?? "",
      /another member is primary; localhost:\d+ is not, and is frozen/,
    );
    assert.equal(after.status, "completed");
  } finally {
    await killAll(home);
  }
});

Deno.test("a hook's output reaches the terminal as text: its control characters are shown escaped, never run (tester89)", async () => {
  const printed: string[] = [];
  const { state } = await runSynthetic([
    hook(
      "after_operation",
      'if [ "$MUP_OPERATION_ID" = deploy-1-0 ]; then printf "a\\033[2Jb\\033]0;title\\007c\\tt\\n"; fi',
    ),
  ], { printed });
  assert.equal(state.status, "completed");
  const text = printed.join("\n");
  assert.ok(text.includes("│ a\\x1b[2Jb\\x1b]0;title\\x07c\tt"), text);
  // deno-lint-ignore no-control-regex
  assert.doesNotMatch(text, /[\x1b\x07]/);
});
