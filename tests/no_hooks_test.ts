/**
 * A hook recorded with the cluster that now fails every time must not keep the operator from
 * stopping or removing it: the failure's hint names --no-hooks, and stop, destroy and state
 * rollback made with --no-hooks run without the cluster's hooks, the review saying so.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import {
  deployArgs,
  killAll,
  mup,
  output,
  standaloneTopology,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { ok, portFree, stablePorts } from "./lifecycle_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

Deno.test("a recorded before_apply hook that now fails: stop names --no-hooks; stop and destroy --no-hooks run without it and say so", async () => {
  const home = await tempHome();
  const [port] = stablePorts(1);
  try {
    const flag = path.join(home, "flag");
    await Deno.writeTextFile(flag, "");
    const file = await writeTopology(
      home,
      "hk.yaml",
      standaloneTopology([port]) +
        `hooks:\n  before_apply:\n    command: "test -f '${flag}'"\n    timeout: 5s\n`,
    );
    await ok(home, deployArgs("hk", file, await testMirror(), ["--auto-approve"]));
    await Deno.remove(flag);

    const blocked = await mup(["cluster", "stop", "hk", "--auto-approve"], { home });
    assert.equal(blocked.code, 1, output(blocked));
    assert.match(blocked.stdout, /hook before_apply exited with 1/, output(blocked));
    assert.match(blocked.stdout, /`mup cluster stop hk --no-hooks …`/, output(blocked));
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
