/**
 * A hook recorded with the cluster that now fails every time must not keep the operator from
 * stopping or removing it: the failure's hint names --no-hooks, and stop, destroy and state
 * rollback made with --no-hooks run without the cluster's hooks, the review saying so.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import {
  clusterCredentials,
  deployArgs,
  killAll,
  mup,
  output,
  standaloneTopology,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { display, ok, portFree, stablePorts } from "./lifecycle_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

/**
 * Deploys standalone cluster hk with an `event` hook that passes while a flag file exists, then
 * removes the flag: the hook recorded with the cluster fails from then on.
 */
async function deployThenFailHook(home: string, port: number, event: string): Promise<void> {
  const flag = path.join(home, "flag");
  await Deno.writeTextFile(flag, "");
  const file = await writeTopology(
    home,
    "hk.yaml",
    standaloneTopology([port]) +
      `hooks:\n  ${event}:\n    command: "test -f '${flag}'"\n    timeout: 5s\n`,
  );
  await ok(home, deployArgs("hk", file, await testMirror(), ["--auto-approve"]));
  await Deno.remove(flag);
}

Deno.test("a recorded before_apply hook that now fails: stop names --no-hooks; stop and destroy --no-hooks run without it and say so", async () => {
  const home = await tempHome();
  const [port] = stablePorts(1);
  try {
    await deployThenFailHook(home, port, "before_apply");

    const blocked = await mup(["cluster", "stop", "hk", "--auto-approve"], { home });
    assert.equal(blocked.code, 1, output(blocked));
    assert.match(blocked.stdout, /hook before_apply exited with 1/, output(blocked));
    assert.match(
      blocked.stdout,
      /`mup cluster stop hk --no-hooks`\./,
      output(blocked),
    );
    assert.equal(portFree(port), false, "still running");

    const stopped = await ok(home, ["cluster", "stop", "hk", "--no-hooks", "--auto-approve"]);
    assert.match(
      stopped.stdout,
      /the cluster's hooks are skipped \(--no-hooks\): before_apply will not run/,
      output(stopped),
    );
    assert.ok(portFree(port), "stopped");
    await ok(home, ["cluster", "destroy", "hk", "--no-hooks", "--auto-approve"]);
    assert.equal(
      await Deno.stat(path.join(home, "storage", "clusters", "hk", "meta.yaml")).then(
        () => true,
        () => false,
      ),
      false,
      "destroyed",
    );
  } finally {
    await killAll(home);
  }
});

Deno.test("a before_operation hook that fails a cluster tls enable at once: the hint names `cluster tls … --no-hooks`, the cluster is not left between modes, and enable --no-hooks switches it", async () => {
  const home = await tempHome();
  const [port] = stablePorts(1);
  try {
    await deployThenFailHook(home, port, "before_operation");

    const failed = await mup(["cluster", "tls", "hk", "enable", "--auto-approve"], { home });
    assert.equal(failed.code, 1, output(failed));
    assert.match(failed.stdout, /hook before_operation of operation mark-status-unknown exited/);
    assert.match(failed.stdout, /`mup cluster tls hk enable --no-hooks`\./, output(failed));
    // Nothing changed before the hook failed: every command still acts on the cluster.
    for (const cmd of [["cluster", "restart", "hk"], ["cluster", "tls", "hk", "enable"]]) {
      const r = await mup([...cmd, "--no-hooks", "--plan-only"], { home });
      assert.equal(r.code, 0, output(r));
      assert.doesNotMatch(r.stderr, /between TLS modes/, output(r));
    }
    const enabled = await ok(home, [
      "cluster",
      "tls",
      "hk",
      "enable",
      "--no-hooks",
      "--auto-approve",
    ]);
    assert.match(
      enabled.stdout,
      /the cluster's hooks are skipped \(--no-hooks\): before_operation will not run/,
      output(enabled),
    );
    assert.match((await clusterCredentials(home, "hk")).connection_string, /tls=true/);
  } finally {
    await killAll(home);
  }
});

Deno.test("a before_operation hook that fails a restart's start: the output (and the --json error document) names the member left down, and the hint starts it first; cluster start then restart --no-hooks finish", async () => {
  const home = await tempHome();
  const [port] = stablePorts(1);
  try {
    const flag = path.join(home, "flag");
    await Deno.writeTextFile(flag, "");
    const file = await writeTopology(
      home,
      "hk.yaml",
      standaloneTopology([port]) +
        "hooks:\n  before_operation:\n" +
        `    command: 'test "$MUP_OPERATION_TYPE" != start_process || test -f ${flag}'\n` +
        "    timeout: 5s\n",
    );
    await ok(home, deployArgs("hk", file, await testMirror(), ["--auto-approve"]));
    await Deno.remove(flag);

    // Under --json the error document gives the same route, and what was left down.
    const json = await mup(["cluster", "restart", "hk", "--auto-approve", "--json"], { home });
    assert.equal(json.code, 1, output(json));
    const doc = JSON.parse(json.stdout.trim().split("\n").at(-1)!);
    assert.equal(doc.type, "error", output(json));
    assert.deepEqual(doc.left_down, [`localhost:${port}`]);
    assert.ok(
      doc.hint.includes(
        "start what this restart left down without them: `mup cluster start hk --no-hooks`, " +
          "then make the plan again with --no-hooks: `mup cluster restart hk --no-hooks`.",
      ),
      doc.hint,
    );
    await ok(home, ["cluster", "start", "hk", "--no-hooks", "--auto-approve"]);

    const failed = await mup(["cluster", "restart", "hk", "--auto-approve"], { home });
    assert.equal(failed.code, 1, output(failed));
    assert.ok(portFree(port), "its start did not run");
    assert.match(
      failed.stdout,
      new RegExp(
        `Down now: localhost:${port} \\(this restart stopped it; its start failed\\)`,
      ),
      output(failed),
    );
    assert.match(
      failed.stdout,
      /start what this restart left down without them: `mup cluster start hk --no-hooks`, then make the plan again with --no-hooks: `mup cluster restart hk --no-hooks`\./,
      output(failed),
    );
    // The hint, followed as written.
    await ok(home, ["cluster", "start", "hk", "--no-hooks", "--auto-approve"]);
    assert.equal(portFree(port), false, "started");
    await ok(home, ["cluster", "restart", "hk", "--no-hooks", "--auto-approve"]);
    assert.equal(portFree(port), false, "restarted");
  } finally {
    await killAll(home);
  }
});

Deno.test("an after_operation hook that fails a restart's stop: the member is started again before the apply fails, nothing is left down, and the resume goes on after the stop", async () => {
  const home = await tempHome();
  const [port] = stablePorts(1);
  try {
    const flag = path.join(home, "failstop");
    const file = await writeTopology(
      home,
      "hk.yaml",
      standaloneTopology([port]) +
        "hooks:\n  after_operation:\n" +
        `    command: 'test "$MUP_OPERATION_TYPE" != stop_process || test ! -f ${flag}'\n` +
        "    timeout: 5s\n",
    );
    await ok(home, deployArgs("hk", file, await testMirror(), ["--auto-approve"]));
    const before = (await display(home, "hk")).processes[0].pid;
    await Deno.writeTextFile(flag, "");

    const failed = await mup(["cluster", "restart", "hk", "--auto-approve"], { home });
    assert.equal(failed.code, 1, output(failed));
    assert.match(failed.stdout, /hook after_operation of operation stop-\S+ exited with 1/);
    assert.equal(portFree(port), false, "started again before the apply failed");
    assert.doesNotMatch(failed.stdout, /Down now/, output(failed));
    assert.match(
      failed.stdout,
      /The operation completed before its after_operation hook failed: a resume goes on after it/,
      output(failed),
    );
    // Exit 1: the restart failed, not finished, though its member runs.
    const after = (await display(home, "hk", 1)).processes[0];
    assert.equal(after.state, "RUNNING", JSON.stringify(after));
    assert.notEqual(after.pid, before, "restarted");
    await Deno.remove(flag);
    const resumed = await ok(home, ["plan", "resume", "hk"]);
    assert.doesNotMatch(resumed.stdout, /Stop .* localhost/, "the stop is not run again");
  } finally {
    await killAll(home);
  }
});
