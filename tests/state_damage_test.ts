/**
 * Damaged or lost state files (tester findings): a lost or damaged current-apply.json does not
 * let an apply that later ones replaced be resumed; unreadable states, plans and checkpoints are
 * named, never silently passed over or crashed on. One standalone cluster serves each test.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import {
  deployArgs,
  freePorts,
  killAll,
  mup,
  type MupResult,
  standaloneTopology,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { clusterDir } from "./apply_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

async function run(home: string, args: string[], code = 0, env?: Record<string, string>) {
  const r = await mup(args, { home, env });
  assert.equal(r.code, code, `mup ${args.join(" ")}:\n${r.stdout}\n${r.stderr}`);
  return r;
}

function noBug(r: MupResult): void {
  assert.doesNotMatch(r.stdout + r.stderr, /This is a bug in mup|"bug":\s*true|\n\s+at /);
}

async function deployStandalone(home: string, port: number): Promise<string> {
  const file = await writeTopology(home, "s1.yaml", standaloneTopology([port]));
  await run(home, deployArgs("s1", file, await testMirror(), ["--auto-approve"]));
  return clusterDir(home, "s1");
}

async function stateIds(home: string): Promise<{ state_id: string; status: string }[]> {
  return JSON.parse((await run(home, ["state", "list", "s1", "--json"])).stdout);
}

Deno.test("a lost or damaged current-apply.json does not let a replaced apply be resumed; the newest is found by the states' records", async () => {
  const home = await tempHome();
  const [port] = freePorts(1);
  try {
    const dir = await deployStandalone(home, port);
    // A restart that fails (the member crashes at its start), then a start and a stop.
    await run(home, ["cluster", "restart", "s1", "--auto-approve"], 1, {
      MUP_SIM_CRASH_AT_STARTUP: "14",
      MUP_SIM_FAULT_PORTS: String(port),
    });
    const failed = (await stateIds(home)).at(-1)!;
    assert.equal(failed.status, "failed");
    await run(home, ["cluster", "start", "s1", "--auto-approve"]);
    await run(home, ["cluster", "stop", "s1", "--auto-approve"]);
    const newest = (await stateIds(home)).at(-1)!.state_id;
    const pointer = path.join(dir, "state", "current-apply.json");
    for (const damage of ["rm", "{"]) {
      await Deno.remove(pointer).catch(() => {}); // the first round left none
      if (damage === "{") await Deno.writeTextFile(pointer, "{");
      const r = await run(home, [
        "plan",
        "resume",
        "s1",
        "--state-id",
        failed.state_id,
        "--auto-approve",
      ], 1);
      assert.match(r.stderr, new RegExp(`replaced by a later apply, ${newest}`));
      noBug(r);
      // The newest apply is found without the link: show, checkpoints and resume agree.
      const show = await run(home, ["state", "show", "s1", "--json"]);
      assert.equal(JSON.parse(show.stdout).state_id, newest);
      if (damage === "{") assert.match(show.stderr, /current-apply\.json is damaged/);
      await run(home, ["state", "checkpoints", "s1"]);
      const again = await run(home, ["plan", "resume", "s1"]);
      assert.match(again.stdout, /already completed; nothing to resume/);
    }
    // Unhealthy (exit 1): the mongod the user stopped was not started again.
    const display = await run(home, ["cluster", "display", "s1", "--json"], 1);
    assert.equal(JSON.parse(display.stdout).processes[0].state, "DOWN");
  } finally {
    await killAll(home);
  }
});

Deno.test("unreadable apply states, plans and checkpoints are named, not passed over", async () => {
  const home = await tempHome();
  const [port] = freePorts(1);
  try {
    const dir = await deployStandalone(home, port);
    const [deployed] = await stateIds(home);
    const cps = JSON.parse((await run(home, ["state", "checkpoints", "s1", "--json"])).stdout);
    assert.ok(cps.length >= 2, JSON.stringify(cps));
    // A checkpoint file deleted, another damaged: rollback says which and what to do.
    await Deno.remove(cps[0].path);
    await Deno.writeTextFile(cps[1].path, '{"x":');
    for (const [i, json] of [[0, false], [1, true]] as const) {
      const args = ["state", "rollback", "s1", "--checkpoint", cps[i].id, "--dry-run"];
      const r = await run(home, json ? [...args, "--json"] : args, 1);
      noBug(r);
      const said = r.stdout + r.stderr; // under --json, the error document is on stdout
      assert.match(said, new RegExp(`checkpoint ${cps[i].id} .*${i ? "damaged" : "missing"}`));
      assert.ok(said.includes(cps[i].path), said);
      assert.match(said, /--checkpoint/);
    }
    const listed = JSON.parse((await run(home, ["state", "checkpoints", "s1", "--json"])).stdout);
    assert.equal(listed[0].problem.kind, "missing");
    assert.equal(listed[1].problem.kind, "damaged");
    assert.equal(listed.at(-1).usable, true);
    const text = await run(home, ["state", "checkpoints", "s1"]);
    assert.match(text.stdout, /MISSING/);

    // Written by a newer mup (a format this one does not read): said so, and the fix is that
    // mup, not a restore from a backup (tester89).
    const metaFile = path.join(dir, "meta.yaml");
    const metaText = await Deno.readTextFile(metaFile);
    await Deno.writeTextFile(
      metaFile,
      metaText.replace(/^format_version: 1$/m, "format_version: 99"),
    );
    const newerMeta = await run(home, ["cluster", "display", "s1"], 1);
    noBug(newerMeta);
    assert.match(
      newerMeta.stderr,
      /meta\.yaml was written by a newer mup \(format 99; this mup reads format 1\)/,
    );
    assert.doesNotMatch(newerMeta.stderr, /damaged|backup/);
    await Deno.writeTextFile(metaFile, metaText);
    const deployFile = path.join(dir, "state", `${deployed.state_id}.json`);
    const stateText = await Deno.readTextFile(deployFile);
    await Deno.writeTextFile(
      deployFile,
      JSON.stringify({ ...JSON.parse(stateText), format_version: 2 }),
    );
    const newerState = await run(home, ["state", "show", "s1", "--state-id", deployed.state_id], 1);
    noBug(newerState);
    assert.match(
      newerState.stderr,
      /was written by a newer mup \(format 2; this mup reads format 1\)/,
    );
    await Deno.writeTextFile(deployFile, stateText);

    // The newest apply state made garbage: listed as unreadable, plan statuses not guessed.
    await run(home, ["cluster", "stop", "s1", "--auto-approve"]);
    const [, stopped] = await stateIds(home);
    const stopFile = path.join(dir, "state", `${stopped.state_id}.json`);
    await Deno.writeTextFile(stopFile, "garbage");
    const list = JSON.parse((await run(home, ["state", "list", "s1", "--json"])).stdout);
    assert.deepEqual(
      list.map((r: { state_id: string; status: string }) => [r.state_id, r.status]),
      [[deployed.state_id, "completed"], [stopped.state_id, "unreadable"]],
    );
    assert.equal(list[1].file, stopFile);
    const plans = JSON.parse((await run(home, ["plan", "list", "s1", "--json"])).stdout);
    assert.deepEqual(plans.map((p: { status: string }) => p.status), ["applied", "unknown"]);
    const plain = await run(home, ["plan", "list", "s1"]);
    assert.ok(plain.stdout.includes(stopFile), plain.stdout);
    const shown = await run(home, ["state", "show", "s1", "--state-id", stopped.state_id], 1);
    assert.ok(shown.stderr.includes(stopFile), shown.stderr);
    noBug(shown);

    // And the link gone: the deploy, now the newest readable apply, is not rolled back, since
    // the unreadable one may be newer.
    await Deno.remove(path.join(dir, "state", "current-apply.json"));
    const rb = await run(
      home,
      ["state", "rollback", "s1", "--checkpoint", "start", "--dry-run"],
      1,
    );
    assert.match(
      rb.stderr,
      new RegExp(`cannot tell whether apply ${deployed.state_id} is the newest`),
    );
    assert.ok(rb.stderr.includes(stopFile), rb.stderr);
    noBug(rb);

    // The newest plan made unreadable: listed as such; show and diff of the cluster refuse.
    const newestPlan = plans.at(-1).path;
    await Deno.writeTextFile(newestPlan, "{");
    const plans2 = JSON.parse((await run(home, ["plan", "list", "s1", "--json"])).stdout);
    assert.equal(plans2.at(-1).status, "unreadable");
    assert.equal(plans2.at(-1).path, newestPlan);
    for (const args of [["plan", "show", "s1"], ["plan", "diff", "s1"]]) {
      const r = await run(home, args, 1);
      assert.ok(r.stderr.includes(newestPlan), r.stderr);
      noBug(r);
    }
  } finally {
    await killAll(home);
  }
});

Deno.test("an unknown cluster exits 1 naming it; a missing plan file gives a hint", async () => {
  const home = await tempHome();
  for (const args of [["state", "list", "nosuch"], ["state", "checkpoints", "nosuch"]]) {
    const r = await run(home, args, 1);
    assert.match(r.stderr, /nosuch/);
  }
  const r = await run(home, ["plan", "show", "/nonexistent/plan.json"], 1);
  assert.match(r.stderr, /Hint: /);
});

Deno.test("an apply whose mup was killed as it began (its state written, not yet the newest) is listed not_started, never superseded, and nothing offers to resume it (tester75)", async () => {
  const home = await tempHome();
  const [port] = freePorts(1);
  try {
    const dir = await deployStandalone(home, port);
    const [deployed] = await stateIds(home);
    // As StateWriter.open leaves it when mup dies between the snapshot and the newest link.
    const doc = JSON.parse(
      await Deno.readTextFile(path.join(dir, "state", `${deployed.state_id}.json`)),
    );
    const id = "apply-0dead0ff";
    doc.state_id = id;
    doc.status = "running";
    doc.started_at = doc.updated_at = new Date(Date.now() + 1000).toISOString();
    doc.checkpoints = [];
    doc.journal_seq = 0;
    for (const o of Object.values(doc.operation_states) as Record<string, unknown>[]) {
      o.status = "pending";
      o.executions = 0;
      delete o.started_at;
      delete o.completed_at;
      delete o.result;
    }
    for (const ph of Object.values(doc.phase_states) as Record<string, unknown>[]) {
      ph.status = "pending";
      delete ph.started_at;
      delete ph.completed_at;
    }
    await Deno.writeTextFile(path.join(dir, "state", `${id}.json`), JSON.stringify(doc));
    const listed = await stateIds(home);
    assert.deepEqual(listed.map((s) => [s.state_id, s.status]), [
      [deployed.state_id, "completed"],
      [id, "not_started"],
    ]);
    const text = await run(home, ["state", "list", "s1"]);
    assert.match(text.stdout, /not_started: its mup stopped before the apply's first operation/);
    assert.doesNotMatch(text.stdout, /superseded/);
    const resume = await run(home, ["plan", "resume", "s1", "--auto-approve"]);
    assert.doesNotMatch(resume.stdout, new RegExp(id));
  } finally {
    await killAll(home);
  }
});
