/**
 * Claims between clusters under one MUP_HOME, through the CLI on the simulator: what a cluster
 * holds once its first deploy is rolled back, and two first deploys applied at once.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { freePorts, killAll, mup, replicaSetTopology, spawnMup, tempHome } from "./helpers.ts";
import { clusterDir } from "./apply_helpers.ts";
import { deploy, failedReplicaSet, healthySet } from "./faults_helpers.ts";
import { livePids, ok } from "./lifecycle_helpers.ts";
import { installFixture } from "./fixture.ts";
import { libImport, projectScript, writeStaleLock } from "./lock_helpers.ts";
import { newApplyState } from "../lib/apply/applier.ts";
import { StateStore } from "../lib/state/store.ts";

installFixture();

const exists = (p: string) => Deno.stat(p).then(() => true, () => false);

/**
 * Rolls `cluster`'s first deploy back to its start; then nothing of it runs, and it is listed
 * only as not deployed (its secrets store stays, for `cluster destroy` to remove).
 */
async function rollBackToStart(home: string, cluster: string): Promise<string> {
  const plan = await ok(home, [
    "state",
    "rollback",
    cluster,
    "--checkpoint",
    "start",
    "--plan-only",
  ]);
  await ok(home, ["state", "rollback", cluster, "--checkpoint", "start", "--auto-approve"]);
  assert.deepEqual(await livePids(home, cluster), []);
  const list = JSON.parse((await ok(home, ["cluster", "list", "--json"])).stdout);
  const row = list.find((r: { name: string }) => r.name === cluster);
  assert.match(row?.status ?? "", /^not deployed \(apply \S+ rolled back to start\)$/);
  return plan.stdout;
}

Deno.test("a first deploy rolled back to its start holds nothing: another cluster may take its ports", async () => {
  const home = await tempHome();
  try {
    // Completed, then rolled back.
    const ports = freePorts(3);
    const text = replicaSetTopology(ports);
    const first = await deploy(home, "tk", text);
    assert.equal(first.code, 0, first.stdout + first.stderr);
    assert.match(await rollBackToStart(home, "tk"), /Remove the cluster metadata/);
    const plan = await deploy(home, "newtk", text, ["--plan-only"]);
    assert.equal(plan.code, 0, plan.stdout + plan.stderr);
    assert.doesNotMatch(plan.stderr, /another cluster holds/);
    const applied = await mup(["plan", "apply", "newtk", "--auto-approve"], { home });
    assert.equal(applied.code, 0, applied.stdout + applied.stderr);
    assert.ok(await exists(path.join(clusterDir(home, "newtk"), "meta.yaml")));
  } finally {
    await killAll(home);
  }
});

Deno.test("a failed first deploy rolled back to its start holds nothing; before the rollback it holds its ports", async () => {
  const home = await tempHome();
  try {
    const ports = freePorts(3);
    const text = await failedReplicaSet(home, ports);
    const held = await deploy(home, "other", text, ["--plan-only"]);
    assert.equal(held.code, 1, held.stdout + held.stderr);
    assert.match(
      held.stdout + held.stderr,
      new RegExp(`port ${ports[0]} on localhost belongs to cluster c1`),
    );
    await rollBackToStart(home, "c1");
    const plan = await deploy(home, "other", text, ["--plan-only"]);
    assert.equal(plan.code, 0, plan.stdout + plan.stderr);
  } finally {
    await killAll(home);
  }
});

Deno.test("a rollback plan only stops and removes: another cluster claiming its ports never refuses it", async () => {
  const home = await tempHome();
  try {
    const [p] = freePorts(1);
    const first = await deploy(
      home,
      "tk",
      `mongod_servers:\n  - { host: localhost, port: ${p} }\n`,
    );
    assert.equal(first.code, 0, first.stdout + first.stderr);
    // What two first deploys racing for one port leave: another cluster whose apply claims it.
    const twin = path.join(clusterDir(home, "twin"), "state");
    await Deno.mkdir(twin, { recursive: true });
    for await (const e of Deno.readDir(path.join(clusterDir(home, "tk"), "state"))) {
      if (/^apply-[^.]+\.json$/.test(e.name)) {
        await Deno.copyFile(
          path.join(clusterDir(home, "tk"), "state", e.name),
          path.join(twin, e.name),
        );
      }
    }
    const held = await deploy(
      home,
      "other",
      `mongod_servers:\n  - { host: localhost, port: ${p} }\n`,
      [
        "--plan-only",
      ],
    );
    assert.match(
      held.stdout + held.stderr,
      new RegExp(`port ${p} on localhost belongs to cluster (tk|twin)`),
    );
    await ok(home, ["state", "rollback", "tk", "--checkpoint", "start", "--auto-approve"]);
    assert.deepEqual(await livePids(home, "tk"), []);
  } finally {
    await killAll(home);
  }
});

/** A mup child whose output is gathered as it comes, and whose questions can be answered. */
function answering(args: string[], home: string) {
  const child = spawnMup(args, home, {}, "piped");
  const out = { stdout: "", stderr: "" };
  const gather = async (s: ReadableStream<Uint8Array>, k: "stdout" | "stderr") => {
    for await (const t of s.pipeThrough(new TextDecoderStream())) out[k] += t;
  };
  const done = Promise.all([gather(child.stdout, "stdout"), gather(child.stderr, "stderr")]);
  return {
    out,
    /** Resolves once `re` shows in its stdout; fails after a generous deadline. */
    async asked(re: RegExp): Promise<void> {
      const t0 = Date.now();
      while (!re.test(out.stdout)) {
        assert.ok(Date.now() - t0 < 120_000, `never asked ${re}:\n${out.stdout}\n${out.stderr}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async answer(text: string): Promise<void> {
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode(text));
      await w.close();
    },
    async code(): Promise<number> {
      const st = await child.status;
      await done;
      return st.code;
    },
  };
}

Deno.test("two first deploys applied at once on the same ports: the second is refused, naming the first, before it starts anything", async () => {
  const home = await tempHome();
  try {
    const ports = freePorts(3);
    const text = replicaSetTopology(ports);
    for (const c of ["ra", "rb"]) {
      const plan = await deploy(home, c, text, ["--plan-only"]);
      assert.equal(plan.code, 0, plan.stdout + plan.stderr);
    }
    // Both pass their checks and wait at the question; both are then told yes at once.
    const runs = ["ra", "rb"].map((c) => answering(["plan", "apply", c], home));
    await Promise.all(runs.map((r) => r.asked(/Do you want to continue\? \(yes\/no\)/)));
    await Promise.all(runs.map((r) => r.answer("yes\n")));
    const codes = await Promise.all(runs.map((r) => r.code()));
    const all = runs.map((r) => r.out.stdout + r.out.stderr).join("\n----\n");
    assert.deepEqual([...codes].sort(), [0, 1], all);
    const winner = codes[0] === 0 ? "ra" : "rb";
    const loser = winner === "ra" ? "rb" : "ra";
    const lost = runs[codes[0] === 0 ? 1 : 0].out;
    assert.match(
      lost.stderr,
      new RegExp(`port ${ports[0]} on localhost belongs to cluster ${winner}`),
    );
    // Refused before anything started: no apply of it is recorded, none of its processes runs.
    assert.doesNotMatch(lost.stdout, /Started|Apply failed/);
    const states = await Array.fromAsync(Deno.readDir(path.join(clusterDir(home, loser), "state")))
      .catch(() => [] as Deno.DirEntry[]);
    assert.deepEqual(states.filter((e) => e.name.startsWith("apply-")).map((e) => e.name), []);
    assert.deepEqual(await livePids(home, loser), []);
    await healthySet(ports, { home, cluster: winner });
    // Every member runs under the winner.
    assert.equal((await livePids(home, winner)).length, 3);
  } finally {
    await killAll(home);
  }
});

Deno.test("a claims lock left by a dead mup is taken over; the apply leaves none behind", async () => {
  const home = await tempHome();
  try {
    const lock = path.join(home, "storage", "claims.lock");
    await Deno.mkdir(path.dirname(lock), { recursive: true });
    await writeStaleLock(lock, "left-by-a-crash");
    const [p] = freePorts(1);
    const r = await deploy(home, "c1", `mongod_servers:\n  - { host: localhost, port: ${p} }\n`);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.ok(!(await exists(lock)));
  } finally {
    await killAll(home);
  }
});

Deno.test("an apply recorded but never begun (its mup gone before it ran anything) holds nothing", async () => {
  const home = await tempHome();
  try {
    const [p] = freePorts(1);
    const text = `mongod_servers:\n  - { host: localhost, port: ${p} }\n`;
    const made = await deploy(home, "ghost", text, ["--plan-only"]);
    assert.equal(made.code, 0, made.stdout + made.stderr);
    // What a mup killed between recording its claim and starting leaves: a pending state, no lock.
    const plans = path.join(clusterDir(home, "ghost"), "plans");
    const [file] = (await Array.fromAsync(Deno.readDir(plans))).map((e) => e.name)
      .filter((n) => n.endsWith(".json"));
    const planPath = path.join(plans, file);
    const plan = JSON.parse(await Deno.readTextFile(planPath));
    await Deno.mkdir(path.join(clusterDir(home, "ghost"), "state"), { recursive: true });
    await new StateStore(clusterDir(home, "ghost")).writeSnapshot(newApplyState(plan, planPath));
    const other = await deploy(home, "other", text, ["--plan-only"]);
    assert.equal(other.code, 0, other.stdout + other.stderr);
  } finally {
    await killAll(home);
  }
});

Deno.test("two mups at the confirmation at once: the one answered last finds under the lock that the other changed the cluster, and changes nothing", async () => {
  const home = await tempHome();
  try {
    const [port] = freePorts(1);
    await deploy(home, "race", `mongod_servers:\n  - { host: localhost, port: ${port} }\n`);
    const late = answering(["cluster", "stop", "race"], home);
    await late.asked(/Do you want to continue\? \(yes\/no\): /);
    // Meanwhile another mup changes the cluster (its serial moves on).
    await ok(home, ["cluster", "restart", "race", "--auto-approve"]);
    await late.answer("yes\n");
    assert.equal(await late.code(), 1, late.out.stdout + late.out.stderr);
    assert.match(late.out.stderr, /Saved plan is stale: .*changed by another operation/);
    assert.doesNotMatch(late.out.stdout, /Applying plan/);
    assert.equal((await livePids(home, "race")).length, 1, "the stop did not run");
  } finally {
    await killAll(home);
  }
});

Deno.test("processes taking over one stale claims lock at once hold it one at a time", async () => {
  const home = await tempHome();
  try {
    const root = path.join(home, "storage");
    await Deno.mkdir(root, { recursive: true });
    await writeStaleLock(path.join(root, "claims.lock"), "left-by-a-crash");
    const log = path.join(home, "held.log");
    const script = path.join(home, "hold.ts");
    // Each notes when it holds the lock and when it lets it go; none may hold it with another.
    await Deno.writeTextFile(
      script,
      libImport("withClaimsLock", "state/claims_lock.ts") +
        `const note = (s: string) => Deno.writeTextFileSync(${
          JSON.stringify(log)
        }, s + "\\n", { append: true });\n` +
        `await withClaimsLock(${JSON.stringify(root)}, "test", async () => {\n` +
        `  note("in " + Deno.pid);\n  await new Promise((r) => setTimeout(r, 100));\n` +
        `  note("out " + Deno.pid);\n});\n`,
    );
    const runs = await Promise.all(
      Array.from({ length: 6 }, () => projectScript(script).output()),
    );
    for (const r of runs) assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
    const lines = (await Deno.readTextFile(log)).trim().split("\n");
    assert.equal(lines.length, 12, lines.join("\n"));
    for (let i = 0; i < lines.length; i += 2) {
      const pid = lines[i].split(" ")[1];
      assert.deepEqual([lines[i], lines[i + 1]], [`in ${pid}`, `out ${pid}`], lines.join("\n"));
    }
  } finally {
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
});
