/**
 * The deploy flags on the planned lifecycle commands: --plan-only, --dry-run, --plan-file,
 * --json, --detailed-exitcode, hooks, the lock and the stale-plan refusal; plan show, graph and
 * diff of their plans.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { killAll, replicaSetTopology, tempHome } from "./helpers.ts";
import { clusterDir } from "./apply_helpers.ts";
import { deploy, display, livePids, ok } from "./lifecycle_helpers.ts";
import { stablePorts } from "./lifecycle_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

Deno.test("lifecycle plans take every deploy flag: plan-only, dry-run, plan-file, json, hooks, lock, stale refusal", async () => {
  const home = await tempHome();
  const ports = stablePorts(3);
  try {
    await deploy(
      home,
      "rs",
      replicaSetTopology(
        ports,
        `hooks:\n  after_phase: { command: "echo \\"done $MUP_OPERATION $MUP_PHASE\\"" }\n`,
      ),
    );
    const pids = (await livePids(home, "rs")).sort();

    // --plan-only --json: the plan, saved; nothing stopped.
    const planned = JSON.parse(
      (await ok(home, ["cluster", "stop", "rs", "--plan-only", "--json"])).stdout,
    );
    // …and one of a selection, which records it for the hints that make it again.
    const third = `localhost:${ports[2]}`;
    const selected = JSON.parse(
      (await ok(home, ["cluster", "stop", "rs", "-N", third, "--plan-only", "--json"])).stdout,
    );
    assert.deepEqual(selected.plan.request, { nodes: [third] });
    assert.equal(planned.plan.operation, "stop");
    const stopPhase = planned.plan.phases.find((p: { name: string }) => p.name === "stop");
    assert.ok(stopPhase.operations.every((o: { type: string }) => o.type === "stop_process"));
    assert.deepEqual((await livePids(home, "rs")).sort(), pids);
    // plan show, graph and diff read it like any plan.
    assert.match((await ok(home, ["plan", "show", planned.plan_id])).stdout, /Operation: stop/);
    assert.match(
      (await ok(home, ["plan", "graph", planned.plan_id])).stdout,
      /stop-mongod-localhost/,
    );
    const diff = await ok(home, ["plan", "diff", "rs", "--detailed-exitcode"], 2);
    assert.match(diff.stdout, /- process +mongod-localhost-\d+ +\(stop\)/);
    // --detailed-exitcode with --plan-only: 2 when the plan changes something.
    await ok(home, ["cluster", "restart", "rs", "--plan-only", "--detailed-exitcode"], 2);
    // A restart's diff: each member restarted (one row each), not a stop and an in-place start.
    const restartDiff = await ok(home, ["plan", "diff", "rs", "--detailed-exitcode"], 2);
    assert.match(restartDiff.stdout, /~ process +mongod-localhost-\d+ +\(restart\)/);
    assert.doesNotMatch(restartDiff.stdout, /\((stop|start)\)/);
    assert.match(restartDiff.stdout, /Summary: .*3 to restart/);
    // --dry-run: the hook schedule; nothing saved, nothing stopped.
    const dry = await ok(home, ["cluster", "restart", "rs", "--dry-run"]);
    assert.match(dry.stdout, /after_phase/);
    // The operations with their targets, per phase, as the review renders them; how to apply.
    assert.match(dry.stdout, new RegExp(`• Step down rs0 primary localhost:${ports[0]}`));
    for (const p of ports) assert.match(dry.stdout, new RegExp(`• Stop rs0 member localhost:${p}`));
    assert.match(dry.stdout, /No changes were made \(dry-run mode\)/);
    assert.match(dry.stdout, /To apply it: run the same command without --dry-run/);
    // --json: the plan document, marked as a dry run, not stored.
    const dryJson = JSON.parse(
      (await ok(home, ["cluster", "stop", "rs", "--dry-run", "--json"])).stdout,
    );
    assert.equal(dryJson.dry_run, true);
    assert.equal(dryJson.stored, false);
    assert.equal(dryJson.changes, true);
    // The hash --expect-hash pins, at the top as well (tester89).
    assert.match(dryJson.content_hash, /^sha256:[0-9a-f]{64}$/);
    assert.equal(dryJson.content_hash, dryJson.plan.content_hash);
    assert.equal(dryJson.plan.operation, "stop");
    assert.equal(dryJson.plan.dry_run, true);
    assert.ok(
      dryJson.plan.phases.some((p: { operations: { type: string }[] }) =>
        p.operations.some((o) => o.type === "stop_process")
      ),
    );
    assert.deepEqual((await livePids(home, "rs")).sort(), pids);
    // --plan-file: a copy of the plan.
    const copy = path.join(home, "restart-plan.json");
    await ok(home, ["cluster", "restart", "rs", "--plan-file", copy]);
    assert.equal(JSON.parse(await Deno.readTextFile(copy)).operation, "restart");
    // Never over a file mup keeps itself (tester46: it replaced meta.yaml and admin.json).
    const metaFile = path.join(home, "storage", "clusters", "rs", "meta.yaml");
    const metaText = await Deno.readTextFile(metaFile);
    const into = await ok(home, ["cluster", "restart", "rs", "--plan-file", metaFile], 1);
    assert.match(
      (into.stdout + into.stderr).replace(/\s+/g, " "),
      /--plan-file \S+meta\.yaml lies inside \S+storage, whose files mup writes and checks itself: nothing was written/,
    );
    assert.equal(await Deno.readTextFile(metaFile), metaText);
    // Nor into a directory that does not exist (made, it could be anywhere), nor over a file
    // someone made read-only; nothing is stored either (tester113 #3).
    const plans = async () => (await ok(home, ["plan", "list", "rs", "--json"])).stdout;
    const before = await plans();
    const missing = path.join(home, "no-such-dir", "p.json");
    const nowhere = await ok(home, ["cluster", "restart", "rs", "--plan-file", missing], 1);
    assert.match(
      (nowhere.stdout + nowhere.stderr).replace(/\s+/g, " "),
      /--plan-file \S+p\.json is in \S+no-such-dir, which does not exist: nothing was written Hint: create the directory first \(`mkdir -p \S+no-such-dir`\)/,
    );
    assert.equal(await Deno.stat(path.dirname(missing)).catch(() => undefined), undefined);
    await Deno.chmod(copy, 0o444);
    const kept = await Deno.readTextFile(copy);
    const readOnly = await ok(home, ["cluster", "restart", "rs", "--plan-file", copy, "--json"], 1);
    assert.match(JSON.parse(readOnly.stdout).error, /is read-only: mup does not replace it/);
    assert.equal(await Deno.readTextFile(copy), kept);
    assert.equal(await plans(), before, "no plan stored");

    // --force: every process restarted at once (new PIDs), the cluster healthy again.
    const forced = await ok(home, ["cluster", "restart", "rs", "--force", "--auto-approve"]);
    assert.match(forced.stdout, /Restart completed successfully!/);
    assert.match(forced.stdout, /rs0: --force stops .* at once, leaving 0 of 3 votes up/);
    // Applied, the restart has nothing left to do.
    const after = await ok(home, ["plan", "diff", "rs", "--detailed-exitcode"]);
    assert.match(
      after.stdout,
      /\(restart\) was applied \(apply \S+, completed .*\): nothing of it/,
    );
    const afterJson = JSON.parse((await ok(home, ["plan", "diff", "rs", "--json"])).stdout);
    assert.deepEqual([afterJson.no_changes, afterJson.operations_left], [true, 0]);
    assert.doesNotMatch(forced.stdout, /Step down/);
    const newPids = (await livePids(home, "rs")).sort();
    assert.equal(newPids.length, 3);
    assert.ok(newPids.every((p) => !pids.includes(p)), "every process was restarted");
    assert.ok((await display(home, "rs")).healthy);

    // Applied with --json: NDJSON events; hooks ran with the operation's name.
    const run = await ok(home, ["cluster", "stop", "rs", "--auto-approve", "--json"]);
    const events = run.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(events.at(-1).event, "apply_done");
    assert.equal(events.at(-1).status, "completed");
    assert.ok(
      events.some((e) => e.event === "hook_output" && e.line === "done stop stop"),
      "after_phase hook ran for the stop phase",
    );
    // Each hook line says its kind; the hook's own event and phase are fields of it (tester84).
    const hookLines = events.filter((e) => e.hook_event === "after_phase" && e.phase === "stop");
    assert.deepEqual(
      hookLines.map((e) => e.event),
      ["hook_start", "hook_done"],
      JSON.stringify(hookLines),
    );
    // plan diff of the applied stop: everything it does is in place, listed once, no changes.
    const applied = await ok(home, ["plan", "diff", "rs", "--detailed-exitcode"]);
    assert.match(applied.stdout, /No changes\. What this stop plan does is already in place\./);

    // The lock: an apply holding it refuses a start, naming the holder.
    const lockFile = path.join(clusterDir(home, "rs"), "state", "lock.json");
    await Deno.writeTextFile(
      lockFile,
      JSON.stringify({
        format_version: 1,
        id: "held-by-test",
        operation: "apply plan-other",
        who: "test",
        host: Deno.hostname(),
        pid: Deno.pid,
        created: new Date().toISOString(),
      }),
    );
    const locked = await ok(home, ["cluster", "start", "rs", "--auto-approve"], 1);
    assert.match(locked.stderr, /locked by another mup process/);
    assert.deepEqual(await livePids(home, "rs"), [], "nothing started");
    await Deno.remove(lockFile);

    // The stop moved the cluster on: the saved stop plan is stale, and refused.
    const stale = await ok(home, ["plan", "apply", planned.plan_id, "--auto-approve"], 1);
    assert.match(stale.stderr, /Saved plan is stale/);
    assert.match(stale.stderr, /plan it again: `mup cluster stop rs`\n/);
    const staleOne = await ok(home, ["plan", "apply", selected.plan_id, "--auto-approve"], 1);
    assert.ok(
      staleOne.stderr.includes(`plan it again: \`mup cluster stop rs -N ${third}\``),
      staleOne.stderr,
    );

    // One member of the stopped set: started, without waiting for a primary it cannot elect.
    const single = await ok(home, [
      "cluster",
      "start",
      "rs",
      "-N",
      `localhost:${ports[0]}`,
      "--auto-approve",
    ]);
    assert.match(single.stdout, /rs0 will have 1 of 3 votes running \(2 needed\)/);
    assert.doesNotMatch(single.stdout, /elect a primary/);
    assert.equal((await livePids(home, "rs")).length, 1);

    // The newest plan made stale by an older one applied after it: plan diff says it is stale
    // (as apply would) instead of listing changes that will not happen.
    const one = JSON.parse(
      (await ok(home, ["cluster", "start", "rs", "--plan-only", "--json"])).stdout,
    );
    await ok(home, ["cluster", "start", "rs", "--plan-only"]);
    await ok(home, ["plan", "apply", one.plan_id, "--auto-approve"]);
    const staleDiff = await ok(home, ["plan", "diff", "rs", "--detailed-exitcode"], 1);
    assert.match(staleDiff.stderr, /Saved plan is stale: plan plan-\S+ can no longer be applied/);
    assert.match(staleDiff.stderr, /mup cluster start rs/);
    assert.doesNotMatch(staleDiff.stdout, /\(start\)/);
  } finally {
    await killAll(home);
  }
});
