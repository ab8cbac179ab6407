import assert from "node:assert/strict";
import { HookRecords } from "./records.ts";

/** A detached `sh -c script` (its own process group), as runHook starts a hook. */
function spawnGroup(script: string): Deno.ChildProcess {
  return new Deno.Command("sh", { args: ["-c", script], stdin: "null", detached: true }).spawn();
}

/** Whether a live (not zombie) process of group `pgid` is left, after up to 5 s for reaping. */
async function groupAlive(pgid: number): Promise<boolean> {
  const until = Date.now() + 5000;
  for (;;) {
    const r = await new Deno.Command("ps", { args: ["-o", "stat=", "-g", String(pgid)] }).output();
    const live = new TextDecoder().decode(r.stdout).split("\n").some((l) => /^[^Z\s]/.test(l));
    if (!live || Date.now() > until) return live;
    await new Promise((r) => setTimeout(r, 100));
  }
}

Deno.test("HookRecords.awaitLeft: a hook left running is awaited; one past its deadline is killed with its group; records of ended hooks are only forgotten", async () => {
  const dir = await Deno.makeTempDir();
  const records = new HookRecords(dir);
  const base = { event: "after_phase", command: "x", state_id: "apply-1", started_at: "" };
  // Ends by itself within its deadline; another holds a child in its group past its deadline.
  const quick = spawnGroup("sleep 2");
  const slow = spawnGroup("sleep 30 & wait");
  const gone = spawnGroup("true");
  try {
    await gone.status;
    await records.started(quick.pid, { ...base, name: "quick", deadline: Date.now() + 60_000 });
    await records.started(slow.pid, { ...base, name: "slow", deadline: Date.now() + 300 });
    await records.started(gone.pid, { ...base, name: "gone", deadline: Date.now() + 60_000 });
    const seen: string[] = [];
    const t0 = Date.now();
    await records.awaitLeft(
      (h) => void seen.push(`waiting ${h.name}`),
      (h, outcome) => void seen.push(`${outcome} ${h.name}`),
      undefined,
      500,
    );
    assert.deepEqual(seen.sort(), ["ended quick", "killed slow", "waiting quick", "waiting slow"]);
    assert.ok(Date.now() - t0 < 10_000, "not held past the deadline");
    assert.equal(await groupAlive(slow.pid), false, "the slow hook's group is gone, its child too");
    assert.deepEqual([...Deno.readDirSync(dir)], [], "every record forgotten");
    // Nothing recorded: nothing to wait for.
    await records.awaitLeft(() => assert.fail("none"), () => assert.fail("none"));
  } finally {
    for (const c of [quick, slow]) {
      try {
        Deno.kill(-c.pid, "SIGKILL");
      } catch {
        // Gone.
      }
      await c.status;
    }
    await Deno.remove(dir, { recursive: true });
  }
});
