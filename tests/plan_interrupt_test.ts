/**
 * Ctrl-C while a command plans (its probes ask the hosts, which a member that does not answer
 * makes slow): mup says nothing was saved or changed and exits 130, no plan stored.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import {
  deployArgs,
  killAll,
  replicaSetTopology,
  spawnMup,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { clusterDir } from "./apply_helpers.ts";
import { memberPid, ok, stablePorts } from "./lifecycle_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

Deno.test("Ctrl-C while a restart is planned: 'nothing was saved or changed', exit 130, no plan stored", async () => {
  const home = await tempHome();
  const ports = stablePorts(3);
  const planning = path.join(home, "planning");
  let pid = 0;
  try {
    // The before_plan hook says when planning begins (it runs just before the probes).
    const file = await writeTopology(
      home,
      "pi.yaml",
      replicaSetTopology(
        ports,
        `hooks:\n  before_plan:\n    command: "touch '${planning}'"\n`,
      ),
    );
    await ok(home, deployArgs("pi", file, await testMirror(), ["--auto-approve"]));
    await Deno.remove(planning).catch(() => {});
    const plans = path.join(clusterDir(home, "pi"), "plans");
    const before = (await Array.fromAsync(Deno.readDir(plans))).length;
    // A member that does not answer holds the probes for seconds.
    pid = await memberPid(home, "pi", ports[2]);
    Deno.kill(pid, "SIGSTOP");
    const child = spawnMup(["cluster", "restart", "pi", "--auto-approve"], home);
    const out = child.output();
    while (!(await Deno.stat(planning).then(() => true, () => false))) {
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill("SIGINT");
    const r = await out;
    const stderr = new TextDecoder().decode(r.stderr);
    assert.equal(r.code, 130, stderr + new TextDecoder().decode(r.stdout));
    assert.match(
      stderr,
      /Interrupted while planning the restart of cluster pi: nothing was saved or changed\./,
    );
    assert.equal((await Array.fromAsync(Deno.readDir(plans))).length, before, "no plan stored");
  } finally {
    if (pid) Deno.kill(pid, "SIGCONT");
    await killAll(home);
  }
});

Deno.test("Ctrl-C while a before_plan or after_plan hook runs: the hook is stopped with its process group, exit 130, and mup says what was saved", async () => {
  const home = await tempHome();
  const hookPid = path.join(home, "hook.pid");
  const groupAlive = (pid: number) => {
    try {
      Deno.kill(-pid, "SIGCONT"); // a harmless signal: it fails once no process is in the group
      return true;
    } catch {
      return false;
    }
  };
  try {
    for (const event of ["before_plan", "after_plan"]) {
      await Deno.remove(hookPid).catch(() => {});
      // The hook leads its own group; its shell's PID is the group's. A long timeout: only the
      // Ctrl-C may end it.
      const file = await writeTopology(
        home,
        `h-${event}.yaml`,
        replicaSetTopology(
          stablePorts(3),
          `hooks:\n  ${event}:\n    command: "echo $$ > '${hookPid}'; exec sleep 600"\n    timeout: 10m\n`,
        ),
      );
      const cluster = `h${event === "before_plan" ? "b" : "a"}`;
      const child = spawnMup(
        deployArgs(cluster, file, await testMirror(), ["--auto-approve"]),
        home,
      );
      const out = child.output();
      let pid = 0;
      while (!pid) {
        pid = Number((await Deno.readTextFile(hookPid).catch(() => "")).trim());
        await new Promise((r) => setTimeout(r, 20));
      }
      child.kill("SIGINT");
      const r = await out;
      const said = new TextDecoder().decode(r.stderr);
      try {
        assert.equal(r.code, 130, said + new TextDecoder().decode(r.stdout));
        assert.equal(groupAlive(pid), false, `the ${event} hook (group ${pid}) still runs`);
      } finally {
        if (groupAlive(pid)) Deno.kill(-pid, "SIGKILL");
      }
      const plans = path.join(clusterDir(home, cluster), "plans");
      const stored = await Array.fromAsync(Deno.readDir(plans)).catch(() => []);
      if (event === "before_plan") {
        assert.match(
          said,
          /Interrupted while planning the deploy of cluster hb: nothing was saved/,
        );
        assert.equal(stored.length, 0, "no plan stored");
      } else {
        assert.match(
          said,
          /Interrupted during the after_plan hooks: plan \S+ was saved \(.+\); nothing was changed\.\nTo apply it \(its after_plan hooks do not run again\): mup plan apply plan-\w+/,
        );
        assert.equal(stored.length, 1, "the plan stays saved");
      }
    }
  } finally {
    await killAll(home);
  }
});
