/**
 * plan_hooks.ts: the hooks of a plan of a recorded cluster are the ones its metadata records
 * (or none, with --no-hooks). A plan edited and sealed again with a hook added, or with a
 * recorded hook's environment changed, is refused before anything runs (tester63 M1); the
 * review shows each hook's environment and where the hooks run.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { sealPlanText } from "../lib/plan/hash.ts";
import type { Plan } from "../lib/plan/schema.ts";
import {
  deployArgs,
  freePorts,
  killAll,
  mup,
  output,
  readJson,
  standaloneTopology,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { display, ok } from "./lifecycle_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

/** `plan` changed by `edit` and sealed again, as an editor with the hash code would, at `file`. */
async function resealed(plan: Plan, file: string, edit: (p: Plan) => void): Promise<string> {
  const copy = structuredClone(plan);
  edit(copy);
  const { content_hash: _, ...rest } = copy;
  await Deno.writeTextFile(file, sealPlanText(rest).text);
  return file;
}

Deno.test("a stop plan resealed with a hook added or a recorded hook's environment changed is refused at validate and apply, naming the hook; the plans mup makes (with and without --no-hooks) pass, and the review shows the environment", async () => {
  const home = await tempHome();
  const [port] = freePorts(1);
  try {
    const topo = await writeTopology(
      home,
      "hk.yaml",
      standaloneTopology(
        [port],
        'hooks:\n  before_apply: { command: "echo hi", environment: { GREETING: hello } }\n',
      ),
    );
    await ok(home, deployArgs("hk", topo, await testMirror(), ["--auto-approve"]));
    const planned = await ok(home, ["cluster", "stop", "hk", "--plan-only"]);
    assert.match(planned.stdout, new RegExp(`Hooks configured \\(run in ${home}\\):`));
    assert.match(
      planned.stdout,
      /• before_apply: echo hi \(timeout 5m; environment GREETING="hello"\)/,
      output(planned),
    );
    const planId = /Plan ID: (plan-\w+)/.exec(planned.stdout)![1];
    const plan = await readJson<Plan>(
      path.join(home, "storage/clusters/hk/plans", `${planId}.json`),
    );
    await ok(home, ["plan", "validate", planId]);
    const noHooks = await ok(home, ["cluster", "stop", "hk", "--plan-only", "--no-hooks"]);
    await ok(home, ["plan", "validate", /Plan ID: (plan-\w+)/.exec(noHooks.stdout)![1]]);

    const preload = await resealed(plan, path.join(home, "preload.json"), (p) => {
      p.hooks[0].environment = { ...p.hooks[0].environment, LD_PRELOAD: "/tmp/evil.so" };
    });
    const added = await resealed(plan, path.join(home, "added.json"), (p) => {
      p.hooks.push({ ...p.hooks[0], name: "x", command: "touch pwned" });
    });
    for (const [file, index, command] of [[preload, 0, "echo hi"], [added, 1, "touch pwned"]]) {
      const v = await mup(["plan", "validate", String(file)], { home });
      assert.equal(v.code, 1, output(v));
      assert.match(
        output(v),
        new RegExp(
          `hooks\\[${index}\\] \\(\\S+, before_apply: ${command}\\) is not a hook cluster hk records`,
        ),
      );
      assert.match(output(v), /plan again \(`mup cluster stop hk`\) for the recorded hooks/);
      const a = await mup(["plan", "apply", String(file), "--auto-approve"], { home });
      assert.notEqual(a.code, 0, output(a));
      assert.match(output(a), /is not a hook cluster hk records/);
    }
    await Deno.stat(path.join(home, "pwned")).then(
      () => assert.fail("the added hook ran"),
      () => {},
    );
    // Nothing ran: the server still answers.
    assert.ok((await display(home, "hk")).healthy);
  } finally {
    await killAll(home);
  }
});
