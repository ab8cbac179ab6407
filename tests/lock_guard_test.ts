/**
 * While one mup applies a plan to a cluster (holding its lock), a second mup that would plan or
 * apply against that cluster is refused at once, naming the holder, before it reads the
 * half-written state: no plan is computed or saved. Read-only commands keep working.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import {
  deployArgs,
  freePorts,
  killAll,
  mup,
  output,
  spawnMup,
  standaloneTopology,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { clusterDir } from "./apply_helpers.ts";
import { ok } from "./lifecycle_helpers.ts";
import { installFixture } from "./fixture.ts";
import { libImport, projectScript, writeStaleLock } from "./lock_helpers.ts";

installFixture();

const exists = (f: string) => Deno.stat(f).then(() => true, () => false);

/** The plan files saved for `cluster`. */
async function planFiles(home: string, cluster: string): Promise<string[]> {
  const dir = path.join(clusterDir(home, cluster), "plans");
  return (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
}

Deno.test("a second mup is refused before it plans while an apply holds the cluster's lock", async () => {
  const home = await tempHome();
  const [port] = freePorts(1);
  const reached = path.join(home, "hook-reached");
  const go = path.join(home, "hook-go");
  // The restart's apply stops in its before_apply hook (the lock taken) until the test says go.
  const hook = `hooks:\n  before_apply:\n    command: 'if [ "$MUP_OPERATION" = restart ]; then ` +
    `touch ${reached}; while [ ! -e ${go} ]; do sleep 0.1; done; fi'\n    timeout: 10m\n`;
  let first: Deno.ChildProcess | undefined;
  try {
    const topo = await writeTopology(home, "lk.yaml", standaloneTopology([port], hook));
    const mirror = await testMirror();
    await ok(home, deployArgs("lk", topo, mirror, ["--auto-approve"]));

    first = spawnMup(["cluster", "restart", "lk", "--auto-approve"], home);
    const t0 = Date.now();
    while (!(await exists(reached))) {
      if (Date.now() - t0 > 120_000) throw new Error("the restart never reached its hook");
      await new Promise((r) => setTimeout(r, 50));
    }
    const plans = await planFiles(home, "lk");

    // Planning a restart: refused, naming the holder; nothing planned, nothing saved.
    const restart = await mup(["cluster", "restart", "lk", "--plan-only"], { home });
    assert.equal(restart.code, 1, output(restart));
    assert.match(restart.stderr, /cluster lk is locked by another mup process/);
    assert.match(restart.stderr, /refusing to plan restart/);
    assert.match(restart.stderr, new RegExp(`PID: +${first.pid}\\b`));
    assert.match(restart.stderr, /Operation: apply plan-/);
    assert.match(restart.stderr, /Since: +\d{4}-/);
    assert.match(restart.stderr, /Hint: wait for that apply to finish/);
    assert.doesNotMatch(restart.stderr + restart.stdout, /restart lk --force|Plan generated/);

    // --json: one error document naming the lock's holder.
    const stop = await mup(["cluster", "stop", "lk", "--auto-approve", "--json"], { home });
    assert.equal(stop.code, 1, output(stop));
    const doc = JSON.parse(stop.stdout.trim().split("\n").at(-1)!);
    assert.equal(doc.type, "error");
    assert.equal(doc.check, "lock_held");
    assert.equal(doc.lock.pid, first.pid);
    assert.match(doc.lock.operation, /^apply plan-/);

    // A deploy (repair) plan of the same cluster, and a resume: refused alike.
    const redeploy = await mup(deployArgs("lk", topo, mirror, ["--plan-only"]), { home });
    assert.equal(redeploy.code, 1, output(redeploy));
    assert.match(redeploy.stderr, /refusing to plan deploy/);
    const resume = await mup(["plan", "resume", "lk", "--auto-approve"], { home });
    assert.equal(resume.code, 1, output(resume));
    assert.match(resume.stderr, /cluster lk is locked by another mup process/);
    assert.deepEqual(await planFiles(home, "lk"), plans, "no plan was saved");

    // Read-only commands keep working.
    const shown = JSON.parse((await ok(home, ["cluster", "display", "lk", "--json"])).stdout);
    assert.equal(shown.apply_in_progress.pid, first.pid, "display notes the apply in progress");
    assert.match(
      (await ok(home, ["cluster", "display", "lk"])).stdout,
      /Note: an apply is in progress \(apply plan-/,
    );
    await ok(home, ["cluster", "list"]);
    // The restart's plan is the one being applied: not `resumable` (a resume would be refused).
    const listed = JSON.parse((await ok(home, ["plan", "list", "lk", "--json"])).stdout) as {
      operation: string;
      status: string;
    }[];
    assert.deepEqual(
      listed.filter((p) => p.operation === "restart").map((p) => p.status),
      ["applying"],
    );
    assert.match((await ok(home, ["plan", "list", "lk"])).stdout, /restart +\S+ +\d+ +applying/);
    await ok(home, ["plan", "show", "lk"]);

    // The first apply finishes undisturbed; then the cluster can be planned again.
    await Deno.writeTextFile(go, "");
    const out = await first.output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stdout));
    first = undefined;
    await ok(home, ["cluster", "restart", "lk", "--plan-only"]);
  } finally {
    await Deno.writeTextFile(go, "").catch(() => {});
    if (first) await first.output().catch(() => {});
    await killAll(home);
  }
});

Deno.test("a lock whose holder is gone does not stop planning", async () => {
  const home = await tempHome();
  const [port] = freePorts(1);
  try {
    const topo = await writeTopology(home, "lk.yaml", standaloneTopology([port]));
    await ok(home, deployArgs("lk", topo, await testMirror(), ["--auto-approve"]));
    // A PID that has exited: the lock is stale, as ClusterLock.acquire recognises it.
    await writeStaleLock(path.join(clusterDir(home, "lk"), "state", "lock.json"));
    const planned = await ok(home, ["cluster", "restart", "lk", "--plan-only"]);
    assert.match(planned.stdout, /Plan generated: plan-/);
  } finally {
    await killAll(home);
  }
});

Deno.test("a lock file that cannot be read stops planning, naming it and the unlock that removes it; display, list and state show say so; state unlock removes it", async () => {
  const home = await tempHome();
  const [port] = freePorts(1);
  try {
    const topo = await writeTopology(home, "lk.yaml", standaloneTopology([port]));
    await ok(home, deployArgs("lk", topo, await testMirror(), ["--auto-approve"]));
    const file = path.join(clusterDir(home, "lk"), "state", "lock.json");
    await Deno.writeTextFile(file, JSON.stringify({ pid: 1 }));
    const refused = await mup(["cluster", "restart", "lk", "--plan-only"], { home });
    assert.equal(refused.code, 1, output(refused));
    assert.ok(
      refused.stderr.includes(`cluster lk's lock ${file} cannot be read (format_version: `),
      output(refused),
    );
    assert.match(
      refused.stderr,
      /if no mup is running on this cluster, remove it: `mup state unlock lk --force`/,
    );
    assert.doesNotMatch(refused.stdout, /Plan generated/);
    // The views that read without the lock say why every plan is refused, and the way out.
    const note = `cluster lk's lock ${file} cannot be read (format_version: `;
    const unlock = "if no mup is running on this cluster: `mup state unlock lk --force`";
    for (
      const args of [["cluster", "display", "lk"], ["cluster", "list"], ["state", "show", "lk"]]
    ) {
      const shown = (await ok(home, args)).stdout.replace(/\s+/g, " ");
      assert.ok(shown.includes(note) && shown.includes(unlock), `${args.join(" ")}: ${shown}`);
    }
    const shownJson = JSON.parse((await ok(home, ["cluster", "display", "lk", "--json"])).stdout);
    assert.equal(shownJson.lock_unreadable.path, file);
    assert.match(shownJson.lock_unreadable.reason, /^format_version: /);
    const listed = JSON.parse((await ok(home, ["cluster", "list", "--json"])).stdout);
    assert.equal(listed[0].lock_unreadable.path, file);
    const state = JSON.parse((await ok(home, ["state", "show", "lk", "--json"])).stdout);
    assert.equal(state.lock_unreadable.path, file);
    const unlocked = await ok(home, ["state", "unlock", "lk", "--force"]);
    assert.match(
      unlocked.stdout,
      /Cluster lk has been successfully unlocked \(its lock was unreadable\)/,
    );
    assert.equal(await exists(file), false);
    await ok(home, ["cluster", "restart", "lk", "--plan-only"]);
    assert.doesNotMatch((await ok(home, ["cluster", "display", "lk"])).stdout, /cannot be read/);
  } finally {
    await killAll(home);
  }
});

Deno.test("processes taking over one stale lock at once: exactly one holds it", async () => {
  const home = await tempHome();
  try {
    const dir = path.join(home, "c");
    await Deno.mkdir(path.join(dir, "state"), { recursive: true });
    await writeStaleLock(path.join(dir, "state", "lock.json"));
    const release = path.join(home, "release");
    // Each takes the lock, says so and holds it until the test releases them all.
    const script = path.join(home, "take.ts");
    await Deno.writeTextFile(
      script,
      libImport("ClusterLock", "state/lock.ts") +
        `try {\n  const { lock } = await ClusterLock.acquire(${JSON.stringify(dir)}, "test");\n` +
        `  console.log("got");\n` +
        `  while (!(await Deno.stat(${
          JSON.stringify(release)
        }).then(() => true, () => false))) await new Promise((r) => setTimeout(r, 50));\n` +
        `  await lock.release();\n} catch (e) { console.log("refused: " + (e as Error).message.split("\\n")[0]); }\n`,
    );
    const children = Array.from({ length: 6 }, () => projectScript(script).spawn());
    const readFirstLine = async (c: Deno.ChildProcess) => {
      const reader = c.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let out = "";
      while (!out.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) break;
        out += value;
      }
      reader.releaseLock();
      return out.trim();
    };
    let said: string[] = [];
    try {
      said = await Promise.all(children.map(readFirstLine));
    } finally {
      await Deno.writeTextFile(release, "");
      for (const c of children) {
        await c.status;
        await c.stderr.cancel().catch(() => {});
        await c.stdout.cancel().catch(() => {});
      }
    }
    assert.equal(said.filter((s) => s === "got").length, 1, said.join("\n"));
    for (const s of said.filter((s) => s !== "got")) {
      assert.match(
        s,
        /^refused: Error acquiring the state lock: cluster c is locked by another mup process\./,
      );
    }
    // The takeovers leave nothing beside the lock (its holder released it): tester42.
    const left = [];
    for await (const e of Deno.readDir(path.join(dir, "state"))) left.push(e.name);
    assert.deepEqual(left, []);
  } finally {
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
});
