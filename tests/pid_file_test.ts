/**
 * A running server is known by its pid file, and, when that is gone or names another process,
 * by who listens on its recorded port with its configuration file: a stop must not report
 * "already stopped" and leave it running, nor a destroy remove its data and metadata under it.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import {
  deployArgs,
  killAll,
  standaloneTopology,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { display, ok, portFree, stablePorts } from "./lifecycle_helpers.ts";
import { alive } from "../scripts/_pids.ts";
import { installFixture } from "./fixture.ts";

installFixture();

Deno.test("a standalone whose pid file was deleted is shown running, stopped by cluster stop, and stopped before destroy removes its data", async () => {
  const home = await tempHome();
  const [port] = stablePorts(1);
  try {
    const file = await writeTopology(home, "pf.yaml", standaloneTopology([port]));
    await ok(home, deployArgs("pf", file, await testMirror(), ["--auto-approve"]));
    const deployDir = path.join(home, "storage", "clusters", "pf", "deploy");
    const pidFile = path.join(deployDir, `mongod-${port}`, "mongod.pid");
    const pid = Number((await Deno.readTextFile(pidFile)).trim());
    await Deno.remove(pidFile);
    const shown = (await display(home, "pf")).processes[0] as { pid?: number; state: string };
    assert.equal(shown.pid, pid, JSON.stringify(shown));

    // A stop finds it by its port and stops it: not "already stopped".
    const stopped = await ok(home, ["cluster", "stop", "pf", "--auto-approve"]);
    assert.doesNotMatch(stopped.stdout, /already stopped/, stopped.stdout);
    assert.equal(alive(pid), false, `mongod ${pid} still runs:\n${stopped.stdout}`);
    assert.ok(await portFree(port));

    // Started again, its pid file overwritten with an unrelated live PID: destroy stops the
    // server (not the unrelated process) before it removes the data.
    await ok(home, ["cluster", "start", "pf", "--auto-approve"]);
    const again = Number((await Deno.readTextFile(pidFile)).trim());
    const other = new Deno.Command("sleep", { args: ["60"] }).spawn();
    try {
      await Deno.writeTextFile(pidFile, `${other.pid}\n`);
      await ok(home, ["cluster", "destroy", "pf", "--auto-approve"]);
      assert.equal(alive(again), false, `mongod ${again} still runs after destroy`);
      assert.ok(await portFree(port));
      assert.equal(alive(other.pid), true, "the unrelated process was not signalled");
    } finally {
      other.kill("SIGKILL");
      await other.status;
    }
  } finally {
    await killAll(home);
  }
});
