/** The interactive review shows the plan before asking; a "no" keeps the plan and says how to apply it. */
import assert from "node:assert/strict";
import {
  deployArgs,
  freePorts,
  killAll,
  mup,
  standaloneTopology,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { admin } from "./sim_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

Deno.test("review: deploy shows the plan before asking; answering no says the plan was kept, where, and the command that applies it, which works", async () => {
  const home = await tempHome();
  try {
    const [port] = freePorts(1);
    const topo = await writeTopology(home, "s.yaml", standaloneTopology([port]));
    const no = await mup(deployArgs("rev", topo, await testMirror()), { home, stdin: "no\n" });
    assert.equal(no.code, 1, no.stdout + no.stderr);
    const out = no.stdout;
    // The plan itself (phases, operations, totals) comes before the question.
    const asked = out.indexOf("Do you want to continue?");
    assert.ok(asked > 0, out);
    for (const part of [/Phases:/, /Prepare/, /Total operations: \d+/]) {
      const m = part.exec(out);
      assert.ok(m && m.index < asked, `${part} shown before the question:\n${out}`);
    }
    const keptOf = (text: string) =>
      /The plan was kept: (\S+)\nTo apply it later: (mup plan apply (plan-[0-9a-f]+))/.exec(text);
    const first = keptOf(out);
    assert.ok(first, out);
    // Said with how long it lasts: the cluster's next plan replaces it (below).
    assert.match(
      out,
      /To apply it later: mup plan apply plan-\w+ \(before the cluster's next plan, which replaces a plan not confirmed\)/,
    );
    await Deno.stat(first[1]); // the plan file is there
    const listed = async () =>
      JSON.parse((await mup(["plan", "list", "rev", "--json"], { home })).stdout) as {
        plan_id: string;
        status: string;
      }[];
    assert.deepEqual((await listed()).map((p) => p.status), ["declined"]);
    // Declined again with a new plan: the first is replaced, not left to pile up as superseded.
    const again = await mup(deployArgs("rev", topo, await testMirror()), { home, stdin: "no\n" });
    assert.equal(again.code, 1, again.stdout + again.stderr);
    assert.match(
      again.stdout,
      new RegExp(`Removed ${first[3]}: declined at confirmation, replaced by this plan`),
    );
    assert.ok(!(await Deno.stat(first[1]).then(() => true, () => false)), "first plan removed");
    const kept = keptOf(again.stdout);
    assert.ok(kept, again.stdout);
    assert.deepEqual(await listed(), [{
      ...(await listed())[0],
      plan_id: kept[3],
      status: "declined",
    }]);
    // The command given applies it.
    const later = await mup(kept[2].split(" ").slice(1), { home, stdin: "yes\n" });
    assert.equal(later.code, 0, later.stdout + later.stderr);
    assert.equal((await admin(port, { ping: 1 })).ok, 1);
    assert.deepEqual((await listed()).map((p) => p.status), ["applied"]);
  } finally {
    await killAll(home);
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
});
