/**
 * `--json` outcomes that are not events: a command that streams NDJSON (plan resume, a
 * plan-and-apply command such as cluster stop) and has nothing to do prints its document on one
 * line, so that a script reading the last line gets all of it.
 */
import assert from "node:assert/strict";
import {
  deployArgs,
  freePorts,
  killAll,
  mup,
  output,
  standaloneTopology,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

Deno.test("--json: nothing to resume, nothing to stop: one line each, the whole document", async () => {
  const home = await tempHome();
  try {
    const topo = await writeTopology(home, "s.yaml", standaloneTopology(freePorts(1)));
    const deployed = await mup(deployArgs("c1", topo, await testMirror(), ["--auto-approve"]), {
      home,
    });
    assert.equal(deployed.code, 0, output(deployed));
    const oneLine = (stdout: string) => {
      const lines = stdout.split("\n").filter((l) => l.trim() !== "");
      assert.equal(lines.length, 1, stdout);
      return JSON.parse(lines[0]);
    };
    const resume = await mup(["plan", "resume", "c1", "--json"], { home });
    assert.equal(resume.code, 0, output(resume));
    assert.equal(oneLine(resume.stdout).resumed, false);
    const stop = await mup(["cluster", "stop", "c1", "--auto-approve", "--json"], { home });
    assert.equal(stop.code, 0, output(stop));
    const again = await mup(["cluster", "stop", "c1", "--auto-approve", "--json"], { home });
    assert.equal(again.code, 0, output(again));
    const none = oneLine(again.stdout);
    assert.equal(none.changes, false);
    assert.match(none.message, /already stopped/);
  } finally {
    await killAll(home);
  }
});
