/**
 * A hook running when mup is stopped at once (a second Ctrl-C) ends with mup: its process group
 * (the hook's `sh` and what it started) is killed, never left running as an orphan.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import {
  deployArgs,
  freePorts,
  killAll,
  spawnMup,
  standaloneTopology,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { deadline, installFixture } from "./fixture.ts";
import { SAME_PRESS_MS } from "../lib/cli/prompt.ts";

installFixture();

/** Whether a process of process group `pgid` is alive (a killed one not yet reaped is not). */
async function groupAlive(pgid: number, waitMs = 0): Promise<boolean> {
  const until = Date.now() + waitMs;
  while (true) {
    const r = await new Deno.Command("ps", {
      args: ["-o", "stat=", "-g", String(pgid)],
      stdout: "piped",
    }).output();
    const live = new TextDecoder().decode(r.stdout).split("\n").some((s) => /^[^Z\s]/.test(s));
    if (!live || Date.now() > until) return live;
    await new Promise((r) => setTimeout(r, 100));
  }
}

Deno.test("a second Ctrl-C while an after_phase hook runs: mup exits at once and the hook's process group is killed with it", async () => {
  const home = await tempHome();
  const [port] = freePorts(1);
  const pidFile = path.join(home, "hook.pid");
  let pgid: number | undefined;
  try {
    // The hook's sh records its pid (its group's id), then waits on a child of its group.
    const topo = await writeTopology(
      home,
      "hk.yaml",
      standaloneTopology([port]) +
        `hooks:\n  after_phase:\n    command: "echo $$ > '${pidFile}'; sleep 43"\n` +
        "    phase: prepare\n",
    );
    const child = spawnMup(deployArgs("hk", topo, await testMirror(), ["--auto-approve"]), home);
    const until = Date.now() + deadline(60_000);
    while (!(pgid = Number(await Deno.readTextFile(pidFile).catch(() => "")) || undefined)) {
      if (Date.now() > until) throw new Error("the hook never ran");
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(await groupAlive(pgid), "the hook runs");
    // The first Ctrl-C lets the hook finish, up to its timeout: mup says what it waits for.
    child.kill("SIGINT");
    const stderr = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let err = "";
    while (!err.includes("stops it now.")) {
      const { value, done } = await stderr.read();
      if (done) break;
      err += value;
    }
    assert.match(
      err,
      /Waiting for hook after_phase \[prepare\] to end \(its timeout ends it in (4m \d+s|5m)\); Ctrl-C again stops it now\./,
    );
    await new Promise((r) => setTimeout(r, SAME_PRESS_MS + 100));
    child.kill("SIGINT");
    const status = await child.status;
    await stderr.cancel().catch(() => {});
    await child.stdout.cancel().catch(() => {});
    assert.equal(status.code, 130, err);
    assert.equal(await groupAlive(pgid, 2000), false, "the hook's sh and its sleep are gone");
  } finally {
    if (pgid) await new Deno.Command("pkill", { args: ["-9", "-g", String(pgid)] }).output();
    await killAll(home);
  }
});
