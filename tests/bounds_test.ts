/**
 * Durations at and beyond their bounds (issue 12, items 5 and 6): one set of bounds in the
 * topology schema, which the plan schema derives from, and timers that never overflow.
 */
import assert from "node:assert/strict";
import { compileHooks } from "../lib/hooks/compile.ts";
import { runHook } from "../lib/hooks/runner.ts";
import { Hook } from "../lib/hooks/schema.ts";
import type { OperationContext } from "../lib/ops/operation.ts";
import { planTimeoutMs } from "../lib/ops/timeout.ts";
import { parseTopology, TopologyError } from "../lib/topology/load.ts";
import { DURATION_MAX_MS } from "../lib/topology/bounds.ts";
import { MAX_TIMER_MS } from "../lib/util/timer.ts";
import {
  deployArgs,
  freePorts,
  mup,
  output,
  standaloneTopology,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

const topology = (timeout: string) =>
  `mongod_servers:\n  - { host: localhost, port: 27017 }\nhooks:\n  after_apply: { command: "true", timeout: ${timeout} }\n`;

Deno.test("hook timeouts: every value the topology accepts makes a valid plan hook; the rest are refused at their line", async () => {
  assert.equal(DURATION_MAX_MS, 576 * 3_600_000);
  assert.ok(DURATION_MAX_MS <= MAX_TIMER_MS);
  const accepted: [string, number][] = [
    ["1ms", 1],
    ["1", 1],
    ["30s", 30_000],
    ["1h30m", 5_400_000],
    ["576h", 576 * 3_600_000],
    ["575h59m59s999ms", 576 * 3_600_000 - 1],
    ["2073600000", 576 * 3_600_000],
  ];
  for (const [text, ms] of accepted) {
    const t = await parseTopology(topology(text), "t.yaml");
    const [hook] = compileHooks(t.topology.hooks, "/tmp");
    assert.equal(hook.timeout_ms, ms, text);
    assert.ok(Hook.safeParse(hook).success, `the plan schema refuses timeout ${text}`);
  }
  const refused = [
    "0s",
    "0",
    "0ms",
    "576h1ms",
    "2073600001",
    "596h31m23s647ms",
    "577h",
    "99999999999999999999h",
    "-5s",
    "5 s",
    "1d",
  ];
  for (const text of refused) {
    try {
      await parseTopology(topology(text), "t.yaml");
      assert.fail(`timeout ${text} was accepted`);
    } catch (e) {
      assert.ok(e instanceof TopologyError, `${text}: ${e}`);
      const i = e.issues[0];
      assert.equal(i.location.line, 4, text);
      assert.equal(i.location.path, "hooks.after_apply.timeout", text);
    }
  }
  // The plan schema on its own, at and beyond the same bounds.
  const base = compileHooks((await parseTopology(topology("1s"), "t.yaml")).topology.hooks, "/")[0];
  for (
    const [ms, ok] of [
      [0, false],
      [1, true],
      [576 * 3_600_000, true],
      [576 * 3_600_000 + 1, false],
      [
        1e20,
        false,
      ],
    ] as const
  ) {
    assert.equal(Hook.safeParse({ ...base, timeout_ms: ms }).success, ok, `timeout_ms ${ms}`);
  }
});

Deno.test("a hook timeout longer than the runtime's 32-bit timer does not fire at once", async () => {
  // 2^31 ms and more overflow setTimeout, which then fires after 1 ms: the hook would be killed
  // as "timed out" while it sleeps for 0.3 s.
  for (const timeout_ms of [2 ** 31 - 1, 2 ** 31, 597 * 3_600_000]) {
    const run = await runHook(
      {
        name: "long",
        event: "after_apply",
        command: "sleep 0.3; exit 0",
        timeout_ms,
        environment: {},
        continue_on_error: false,
        working_dir: "/tmp",
      },
      {},
      () => {},
    );
    assert.equal(run.timedOut, false, `timeout_ms ${timeout_ms}`);
    assert.equal(run.code, 0, `timeout_ms ${timeout_ms}`);
  }
});

Deno.test("duration parameters of plan operations are held to the topology's bounds", () => {
  const ctx = (v?: string) =>
    ({
      op: {
        id: "wait-x",
        target: { type: "process", name: "x", params: v === undefined ? {} : { timeout_ms: v } },
      },
    }) as unknown as OperationContext;
  assert.equal(planTimeoutMs(ctx(), 30_000), 30_000);
  assert.equal(planTimeoutMs(ctx("1"), 30_000), 1);
  assert.equal(planTimeoutMs(ctx("2073600000"), 30_000), 576 * 3_600_000);
  // A hand-made plan's out-of-range values reach no timer as they are.
  for (const big of ["2073600001", "2147483648", "1e20"]) {
    assert.equal(planTimeoutMs(ctx(big), 30_000), 576 * 3_600_000);
  }
  for (const bad of ["0", "abc", "-1", "Infinity"]) {
    assert.equal(planTimeoutMs(ctx(bad), 30_000), 30_000);
  }
  // Plans now store it as a number on the target; the string in params (older plans) is read
  // only when the number is absent.
  const typed = (n: number, old?: string) =>
    ({
      op: {
        id: "wait-x",
        target: {
          type: "process",
          name: "x",
          timeout_ms: n,
          params: old === undefined ? {} : { timeout_ms: old },
        },
      },
    }) as unknown as OperationContext;
  assert.equal(planTimeoutMs(typed(5000), 30_000), 5000);
  assert.equal(planTimeoutMs(typed(5000, "9000"), 30_000), 5000);
  assert.equal(planTimeoutMs(typed(2 ** 40), 30_000), 576 * 3_600_000);
});

/** The issue a topology text is refused with (or undefined when it is accepted). */
async function refusal(text: string) {
  try {
    await parseTopology(text, "t.yaml");
    return undefined;
  } catch (e) {
    assert.ok(e instanceof TopologyError, String(e));
    return e.issues[0];
  }
}

Deno.test("YAML limits at and beyond each bound: each names the limit, its place and how to raise it", async () => {
  const server = (i: number) => `  - { host: localhost, port: ${27017 + i}, replica_set: rs0 }\n`;
  const servers = (n: number) =>
    "mongod_servers:\n" + Array.from({ length: n }, (_, i) => server(i)).join("");
  try {
    Deno.env.set("MUP_TOPOLOGY_MAX_PROCESSES", "3");
    assert.equal(await refusal(servers(3)), undefined);
    const many = await refusal(servers(4));
    assert.equal(many?.code, "too_many_processes");
    assert.equal(many?.location.line, 5, "at the entry past the limit");
    assert.match(many!.hint!, /MUP_TOPOLOGY_MAX_PROCESSES/);
    Deno.env.delete("MUP_TOPOLOGY_MAX_PROCESSES");

    const text = servers(1);
    Deno.env.set("MUP_TOPOLOGY_MAX_BYTES", String(new TextEncoder().encode(text).length));
    assert.equal(await refusal(text), undefined);
    const big = await refusal(text + "#\n");
    assert.equal(big?.code, "file_too_large");
    assert.match(big!.hint!, /MUP_TOPOLOGY_MAX_BYTES/);
  } finally {
    Deno.env.delete("MUP_TOPOLOGY_MAX_PROCESSES");
    Deno.env.delete("MUP_TOPOLOGY_MAX_BYTES");
  }
  // Depth: the server list, its entry, runtime_config, setParameter and the value make 5 levels
  // below the root.
  const nested = (n: number) =>
    `mongod_servers:\n  - host: localhost\n    runtime_config: { setParameter: { x: ${
      "[".repeat(n)
    }${"]".repeat(n)} } }\n`;
  // At the limit the file is read whole: what refuses it then is the value (setParameter takes
  // single values), not its depth.
  assert.equal((await refusal(nested(59)))?.code, "option_value");
  const deep = await refusal(nested(60));
  assert.equal(deep?.code, "too_deep");
  assert.equal(deep?.location.line, 3);
  // Aliases: an anchor of 100 values (101 nodes) used 99 times adds 9,999; a 100th passes 10,000.
  const aliased = (n: number) =>
    `mongod_servers:\n  - host: localhost\n    runtime_config:\n      setParameter:\n        a: &a [${
      Array(100).fill("1").join(",")
    }]\n        b: [${Array(n).fill("*a").join(",")}]\n`;
  assert.equal((await refusal(aliased(99)))?.code, "option_value");
  const bomb = await refusal(aliased(100));
  assert.equal(bomb?.code, "alias_expansion");
  assert.equal(bomb?.location.line, 6);
});

Deno.test("hook timeouts at both bounds plan into plans that validate; beyond them nothing is planned", async () => {
  const home = await tempHome();
  const [port] = freePorts(1);
  const hooks = (a: string, b: string) =>
    `hooks:\n  before_apply: { command: "true", timeout: ${a} }\n  after_apply: { command: "true", timeout: ${b} }\n`;
  const ok = await writeTopology(
    home,
    "ok.yaml",
    standaloneTopology([port], hooks("1ms", "576h")),
  );
  const r = await mup(deployArgs("c1", ok, await testMirror(), ["--plan-only", "--json"]), {
    home,
  });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  // One line, as every --json answer of a deploy: a script reads the last line (tester58).
  assert.equal(r.stdout.trimEnd().split("\n").length, 1);
  const dry = await mup(deployArgs("c1", ok, await testMirror(), ["--dry-run", "--json"]), {
    home,
  });
  assert.equal(dry.stdout.trimEnd().split("\n").length, 1, dry.stdout.slice(0, 300));
  assert.equal(JSON.parse(dry.stdout).dry_run, true);
  const { path: planPath, plan } = JSON.parse(r.stdout);
  assert.deepEqual(plan.hooks.map((h: { timeout_ms: number }) => h.timeout_ms), [
    1,
    576 * 3_600_000,
  ]);
  const v = await mup(["plan", "validate", planPath], { home });
  assert.equal(v.code, 0, output(v));
  for (const [a, b] of [["0s", "1s"], ["1s", "576h1ms"]]) {
    const bad = await writeTopology(home, "bad.yaml", standaloneTopology([port], hooks(a, b)));
    const out = await mup(deployArgs("c2", bad, await testMirror(), ["--plan-only"]), { home });
    assert.equal(out.code, 1, output(out));
    assert.match(
      out.stderr,
      /bad\.yaml:\d+:\d+: error: hooks\.\w+\.timeout: a duration must be from 1ms to 576h \(24 days\)/,
    );
  }
  // Nothing was saved: not even the cluster's directory exists.
  const plans = await mup(["plan", "list", "c2", "--json"], { home });
  assert.equal(plans.code, 1, plans.stdout);
  assert.equal(JSON.parse(plans.stdout).error, 'no cluster named "c2"');
});

Deno.test("a topology 'file' without a size (/dev/zero, /dev/urandom) is read only up to the size limit, then refused", async () => {
  const home = await tempHome();
  try {
    for (const dev of ["/dev/zero", "/dev/urandom"]) {
      const r = await mup(["topology", "validate", dev, "--json"], {
        home,
        env: { MUP_TOPOLOGY_MAX_BYTES: "65536" },
      });
      assert.equal(r.code, 1, output(r));
      const doc = JSON.parse(r.stdout);
      assert.equal(doc.issues?.[0]?.code, "file_too_large", output(r));
      assert.match(doc.issues[0].message, /more than the limit of 65536 bytes/);
    }
  } finally {
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
});

Deno.test("a limit variable that is not a number, and a MUP_HOME that is a file, are refused by name", async () => {
  const home = await tempHome();
  try {
    const bad = await mup(["topology", "validate", "examples/sharded.yaml"], {
      home,
      env: { MUP_TOPOLOGY_MAX_BYTES: "abc" },
    });
    assert.equal(bad.code, 1, output(bad));
    assert.match(bad.stderr, /MUP_TOPOLOGY_MAX_BYTES=abc is not a whole number/);
    const file = `${home}/not-a-dir`;
    await Deno.writeTextFile(file, "");
    const list = await mup(["cluster", "list"], { home: file });
    assert.equal(list.code, 1, output(list));
    assert.match(list.stderr, new RegExp(`MUP_HOME ${file} is not a directory`));
  } finally {
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
});
