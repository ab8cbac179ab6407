/**
 * An unfinished apply whose plan file was removed by hand: `state show` says the file is gone,
 * `plan resume` refuses naming the apply, the file and the way back, and the file put back
 * (`plan import` of an exported copy) lets the resume finish the work.
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

Deno.test("a resumable apply whose plan file was deleted: state show says so, resume refuses naming the file and the fix, and resumes once it is imported back", async () => {
  const home = await tempHome();
  const ports = freePorts(1);
  try {
    const topo = await writeTopology(home, "c1.yaml", standaloneTopology(ports));
    const failed = await mup(deployArgs("c1", topo, await testMirror(), ["--auto-approve"]), {
      home,
      env: { MUP_SIM_CRASH_AT_STARTUP: "14", MUP_SIM_FAULT_PORTS: String(ports[0]) },
    });
    assert.equal(failed.code, 1, output(failed));
    const state = JSON.parse((await mup(["state", "show", "c1", "--json"], { home })).stdout);
    const copy = await mup(["plan", "export", state.plan_id], { home });
    assert.equal(copy.code, 0, output(copy));
    await Deno.remove(state.plan_path);

    const shown = await mup(["state", "show", "c1"], { home });
    assert.equal(shown.code, 0, output(shown));
    assert.match(shown.stdout, /: gone, deleted or moved; resume and rollback need it back\)/);
    const json = JSON.parse((await mup(["state", "show", "c1", "--json"], { home })).stdout);
    assert.equal(json.plan_missing, true);

    const refused = await mup(["plan", "resume", "c1", "--auto-approve"], { home });
    assert.equal(refused.code, 1, output(refused));
    assert.match(
      refused.stderr,
      new RegExp(`the plan of apply ${state.state_id}, .*${state.plan_id}\\.json, is gone`),
    );
    assert.match(refused.stderr, /`mup plan import < copy\.json`/);
    assert.doesNotMatch(refused.stderr, /give a plan file, plan ID or cluster name/);

    const imported = await mup(["plan", "import"], { home, stdin: copy.stdout });
    assert.equal(imported.code, 0, output(imported));
    const resumed = await mup(["plan", "resume", "c1", "--auto-approve"], { home });
    assert.equal(resumed.code, 0, output(resumed));
    const after = JSON.parse((await mup(["state", "show", "c1", "--json"], { home })).stdout);
    assert.equal(after.status, "completed");
    assert.equal(after.plan_missing, undefined);
  } finally {
    await killAll(home);
  }
});
