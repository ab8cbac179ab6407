/**
 * Issue 16's small ones: the DOT graph draws only critical-path edges red and has a legend; the
 * live status line never cuts a word; applying a plan a second time says it was already applied,
 * and when.
 */
import assert from "node:assert/strict";
import { criticalPath, Dag, toDot } from "../lib/graph/mod.ts";
import { planToDag } from "../lib/plan/graph.ts";
import { parsePlanText } from "../lib/plan/parse.ts";
import { statusLine } from "../lib/render/apply_tty.ts";
import { PlainRenderer } from "../lib/render/apply_plain.ts";
import type { Plan } from "../lib/plan/schema.ts";
import { EXAMPLE_PLAN } from "../scripts/example_plan.ts";
import {
  deployArgs,
  freePorts,
  killAll,
  mup,
  standaloneTopology,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

function redEdges(dot: string): string[] {
  return dot.split("\n").map((l) => l.trim()).filter((l) =>
    /^"[^"]+" -> "[^"]+" \[color = "red"/.test(l) && !l.startsWith('"legend')
  ).map((l) => l.replace(/ \[.*$/, "").replaceAll('"', ""));
}

Deno.test("DOT: only edges between consecutive critical-path nodes are red, shortcuts between path nodes are not; a legend explains the marks", () => {
  // a -> b -> c is the critical path; a -> c also joins two path nodes but is not on it.
  const dag = new Dag([
    { id: "a", dependsOn: [], weight: 1 },
    { id: "b", dependsOn: ["a"], weight: 5 },
    { id: "c", dependsOn: ["a", "b"], weight: 1 },
  ]);
  const cp = criticalPath(dag);
  assert.deepEqual(cp.path, ["a", "b", "c"]);
  const dot = toDot(dag, { highlight: cp.path });
  assert.deepEqual(redEdges(dot).sort(), ["a -> b", "b -> c"]);
  assert.match(dot, /"legend_critical" \[label = "critical path"/);
  assert.match(dot, /"legend_critical" -> "legend_critical_next" \[color = "red"/);
});

Deno.test("DOT of the example sharded plan: every red edge joins consecutive operations of the critical path", async () => {
  const { plan } = parsePlanText(await Deno.readTextFile(EXAMPLE_PLAN), EXAMPLE_PLAN);
  const dag = planToDag(plan!);
  const cp = criticalPath(dag);
  const consecutive = new Set(cp.path.slice(1).map((to, i) => `${cp.path[i]} -> ${to}`));
  const red = redEdges(toDot(dag, { highlight: cp.path }));
  assert.ok(red.length > 0);
  for (const e of red) assert.ok(consecutive.has(e), `${e} is red but not on the critical path`);
  assert.equal(red.length, consecutive.size);
});

Deno.test("a plan file is JSON as JSON.parse reads it: a comma after a phase's last operation is refused where it is, as plan list refuses it (tester43)", async () => {
  const text = await Deno.readTextFile(EXAMPLE_PLAN);
  assert.ok(parsePlanText(text, EXAMPLE_PLAN).plan, "the example parses");
  // The first phase's last operation line, given a trailing comma.
  const lines = text.split("\n");
  const last = lines.findIndex((l, i) =>
    l.startsWith('        {"') && lines[i + 1]?.trim().startsWith("]")
  );
  assert.ok(last > 0 && lines[last].endsWith("}"), lines[last]?.slice(0, 80));
  lines[last] += ",";
  const bad = lines.join("\n");
  assert.throws(() => JSON.parse(bad));
  const parsed = parsePlanText(bad, "bad.json");
  assert.equal(parsed.plan, undefined);
  assert.ok(parsed.issues.some((i) => i.severity === "error"), JSON.stringify(parsed.issues));
});

Deno.test("status line: whole operation names only, '+N more' for the rest, never wider than the terminal", () => {
  const items = Array.from({ length: 9 }, (_, i) => `start-mongod-localhost-2701${i} 1.2s`);
  for (const cols of [20, 40, 61, 80, 100, 160, 400]) {
    const line = statusLine("⠋", items, cols);
    assert.ok(line.length <= cols - 1, `${cols}: ${line}`);
    const shown = line.replace(/^⠋ 9 running(:\s?)?/, "").split(", ").filter((s) =>
      !/^\+\d+ more$/.test(s)
    );
    for (const [i, s] of shown.entries()) {
      // Only a first item too long to fit is shortened, to whole words and "…".
      const whole = items.includes(s) ||
        (i === 0 && s.endsWith("…") && `${items[0]} `.startsWith(`${s.slice(0, -1)} `));
      if (s) assert.ok(whole, `${cols}: "${s}" is a cut item in: ${line}`);
    }
    const more = /\+(\d+) more$/.exec(line);
    // None fits: the count alone says it ("+9 more" would name none of them).
    if (!shown.filter(Boolean).length) assert.equal(line, "⠋ 9 running", `${cols}`);
    else if (shown.filter(Boolean).length < items.length) {
      assert.ok(more, `${cols}: says how many more: ${line}`);
      assert.equal(Number(more[1]) + shown.filter(Boolean).length, items.length);
    }
  }
  assert.equal(statusLine("⠋", ["a 1s", "b 2s"], 100), "⠋ 2 running: a 1s, b 2s");
  // One operation too long for the line: its first whole words, never "+1 more" naming none.
  const wait = "Wait until localhost:29018 is SECONDARY and caught up 3.1s";
  assert.equal(statusLine("⠋", [wait], 48), "⠋ 1 running: Wait until localhost:29018 is…");
  assert.equal(
    statusLine("⠋", [wait, "start-mongod-localhost-29019 1.0s"], 48),
    "⠋ 2 running: Wait until…, +1 more",
  );
  assert.equal(statusLine("⠋", [wait], 16), "⠋ 1 running");
});

Deno.test("applying a plan a second time says it was already applied, and when (not 'changed by another operation')", async () => {
  const home = await tempHome();
  try {
    const topo = await writeTopology(home, "s.yaml", standaloneTopology(freePorts(1)));
    const planned = await mup(
      deployArgs("once", topo, await testMirror(), ["--plan-only", "--json"]),
      { home },
    );
    assert.equal(planned.code, 0, planned.stdout + planned.stderr);
    const planId = JSON.parse(planned.stdout).plan_id as string;
    const first = await mup(["plan", "apply", planId, "--auto-approve"], { home });
    assert.equal(first.code, 0, first.stdout + first.stderr);
    const again = await mup(["plan", "apply", planId, "--auto-approve"], { home });
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(
      again.stdout,
      new RegExp(
        `Plan ${planId} was already applied to cluster once at \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z \\(apply apply-[0-9a-f]+\\); nothing to do\\.`,
      ),
    );
    assert.doesNotMatch(again.stdout + again.stderr, /changed by another operation/);
  } finally {
    await killAll(home);
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
});

Deno.test("a damaged meta.yaml is named (file, what is wrong, how to recover), never a 'bug in mup'; cluster list shows the cluster as damaged", async () => {
  const home = await tempHome();
  try {
    const dir = `${home}/storage/clusters/broken`;
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(`${dir}/meta.yaml`, "format_version: 1\nname: broken\n  bogus: [\n");
    const shown = await mup(["cluster", "display", "broken"], { home });
    assert.equal(shown.code, 1, shown.stdout + shown.stderr);
    assert.match(shown.stderr, new RegExp(`${dir}/meta.yaml is damaged: not valid YAML`));
    assert.match(shown.stderr, /restore the file from a backup/);
    assert.doesNotMatch(shown.stderr, /bug in mup/);
    const list = await mup(["cluster", "list", "--json"], { home });
    assert.equal(list.code, 0, list.stderr);
    const row = JSON.parse(list.stdout).find((r: { name: string }) => r.name === "broken");
    assert.equal(row?.status, "damaged metadata", list.stdout);
    assert.match(row.error, /meta\.yaml is damaged/);
    // What cannot be read is null under --json, not the table's "-".
    assert.deepEqual([row.kind, row.version, row.variant], [null, null, null], list.stdout);
    const text = await mup(["cluster", "list"], { home });
    assert.match(text.stdout, /broken\s+-\s+-\s+-\s+damaged metadata/);
    // The status column is the recorded one, and says so (a live check is `cluster display`).
    assert.match(text.stdout, /NAME\s+KIND\s+VERSION\s+VARIANT\s+RECORDED\s/);
    assert.match(text.stdout, /`mup cluster display <name>` asks the servers/);
  } finally {
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
});

Deno.test("cluster display names what holds the port of a stopped server when something else answers there", async () => {
  const home = await tempHome();
  const [port] = freePorts(1);
  let silent: Deno.Listener | undefined;
  const held: Deno.Conn[] = [];
  try {
    const topo = await writeTopology(home, "s.yaml", standaloneTopology([port]));
    const deployed = await mup(deployArgs("held", topo, await testMirror(), ["--auto-approve"]), {
      home,
    });
    assert.equal(deployed.code, 0, deployed.stdout + deployed.stderr);
    const stopped = await mup(["cluster", "stop", "held", "--auto-approve"], { home });
    assert.equal(stopped.code, 0, stopped.stdout + stopped.stderr);
    // Something else takes the port: it accepts connections and never answers.
    silent = Deno.listen({ hostname: "127.0.0.1", port });
    const accepting = (async () => {
      for await (const c of silent!) held.push(c);
    })().catch(() => {});
    const shown = await mup(["cluster", "display", "held", "--timeout", "500ms", "--json"], {
      home,
    });
    assert.equal(shown.code, 1, shown.stdout + shown.stderr);
    const [row] = JSON.parse(shown.stdout).processes;
    assert.equal(row.state, "DOWN");
    assert.match(row.reason, new RegExp(`port ${port} is held by PID ${Deno.pid} \\(`));
    silent.close();
    silent = undefined;
    await accepting;
  } finally {
    silent?.close();
    for (const c of held) c.close();
    await killAll(home);
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
});

Deno.test("a group cut short by a failure: each finished operation gets its own line, never a grouped one that claims the failed member", () => {
  const wait = (port: number) => ({
    id: `wait-mongod-localhost-${port}`,
    type: "wait_for_process",
    description: `Wait for mongod localhost:${port}`,
    target: {
      type: "process",
      name: `mongod-localhost-${port}`,
      host: "localhost",
      port,
      params: {},
    },
    changes: [],
    depends_on: [],
    parallel: true,
  });
  const plan = {
    plan_id: "plan-test",
    cluster_name: "t",
    operation: "deploy",
    kind: "replica_set",
    version: "7.0.5",
    phases: [{ name: "start", order: 3, operations: [wait(1), wait(2), wait(3)] }],
  } as unknown as Plan;
  const lines: string[] = [];
  const r = new PlainRenderer((l) => lines.push(l));
  r.handle({ type: "apply_start", plan, state_id: "apply-test" } as never);
  for (const p of [1, 2, 3]) r.handle({ type: "op_start", id: `wait-mongod-localhost-${p}` });
  r.handle({ type: "op_done", id: "wait-mongod-localhost-1", ms: 1, already_done: false });
  r.handle({ type: "op_done", id: "wait-mongod-localhost-3", ms: 1, already_done: false });
  r.handle({ type: "op_failed", id: "wait-mongod-localhost-2", ms: 1, error: "timed out" });
  r.handle({
    type: "apply_done",
    status: "failed",
    ms: 3,
    state_id: "apply-test",
    state_path: "/s",
    failed_operation: "wait-mongod-localhost-2",
    phase: "start",
  });
  const ready = lines.filter((l) => l.includes("✓"));
  assert.deepEqual(ready.map((l) => l.replace(/ \[.*$/, "")), [
    "  ✓ mongod localhost:1 ready",
    "  ✓ mongod localhost:3 ready",
  ], lines.join("\n"));
});

Deno.test("a resume's ↻ line for an operation run again is written under its own phase's header, when it starts, just above its line", () => {
  const opOf = (id: string, description: string) => ({
    id,
    type: "start_process",
    description,
    target: { type: "process", name: id, host: "localhost", port: 1, params: {} },
    changes: [],
    depends_on: [],
  });
  const plan = {
    plan_id: "plan-test",
    cluster_name: "t",
    operation: "start",
    kind: "replica_set",
    version: "7.0.5",
    phases: [
      { name: "prepare", order: 1, operations: [opOf("a", "Start mongod localhost:1")] },
      { name: "start", order: 2, operations: [opOf("b", "Start mongod localhost:2")] },
    ],
  } as unknown as Plan;
  const lines: string[] = [];
  const r = new PlainRenderer((l) => lines.push(l));
  r.handle({ type: "apply_start", plan, state_id: "apply-test", resumed: true, done: [] } as never);
  r.handle({ type: "op_redo", id: "b", reason: "completed before, but its effect is gone" });
  r.handle({ type: "phase_start", phase: "prepare", index: 1, total: 2 } as never);
  r.handle({ type: "op_start", id: "a" });
  r.handle({ type: "op_done", id: "a", ms: 1, already_done: false });
  r.handle({ type: "phase_start", phase: "start", index: 2, total: 2 } as never);
  r.handle({ type: "op_start", id: "b" });
  r.handle({ type: "op_done", id: "b", ms: 1, already_done: false });
  const text = lines.join("\n");
  const header = lines.indexOf("\nPhase 2/2: Start");
  const redo = lines.findIndex((l) => l.startsWith("  ↻ "));
  assert.ok(header >= 0 && redo === header + 1, text);
  assert.equal(
    lines[redo],
    "  ↻ Start mongod localhost:2: completed before, but its effect is gone; running it again",
  );
  assert.match(lines[redo + 1], /^ {2}✓ ↻ /, text);
});

Deno.test("plan apply <cluster> will not apply a destroy that is only the newest plan: its plan ID must be named", async () => {
  const home = await tempHome();
  const [port] = freePorts(1);
  try {
    const file = await writeTopology(home, "d.yaml", standaloneTopology([port]));
    const deployed = await mup(deployArgs("dz", file, await testMirror(), ["--auto-approve"]), {
      home,
    });
    assert.equal(deployed.code, 0, deployed.stdout + deployed.stderr);
    const planned = await mup(["cluster", "destroy", "dz", "--plan-only", "--json"], { home });
    const id = JSON.parse(planned.stdout).plan_id;
    const byName = await mup(["plan", "apply", "dz", "--auto-approve"], { home });
    assert.equal(byName.code, 1, byName.stdout + byName.stderr);
    assert.match(
      byName.stderr,
      /the newest plan of cluster dz is a destroy .*applied only by its plan ID/,
    );
    assert.ok(byName.stderr.includes(`\`mup plan apply ${id}\``), byName.stderr);
    const shown = JSON.parse((await mup(["cluster", "list", "--json"], { home })).stdout);
    assert.equal(shown[0].status, "running", "nothing was destroyed");
    const byId = await mup(["plan", "apply", id, "--auto-approve"], { home });
    assert.equal(byId.code, 0, byId.stdout + byId.stderr);
  } finally {
    await killAll(home);
  }
});
