/** Estimates from measured durations: recorded per host in the cluster's history, used by new plans. */
import assert from "node:assert/strict";
import * as path from "node:path";
import {
  deployArgs,
  freePorts,
  killAll,
  mup,
  output,
  replicaSetTopology,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { clusterDir } from "./apply_helpers.ts";
import { ClusterHistory, HISTORY_FORMAT_VERSION } from "../lib/state/history.ts";
import { allOperations, type Plan } from "../lib/plan/schema.ts";
import { installFixture } from "./fixture.ts";

installFixture();

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return Math.round(s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2);
}

Deno.test("an apply records each operation type's durations per host; new plans are estimated from them and say so", async () => {
  const home = await tempHome();
  const mirror = await testMirror();
  try {
    // No history yet: the built-in constants, said so in the review.
    const p1 = freePorts(3);
    const t1 = await writeTopology(home, "c1.yaml", replicaSetTopology(p1));
    const deploy = await mup(deployArgs("c1", t1, mirror, ["--auto-approve"]), { home });
    assert.equal(deploy.code, 0, deploy.stdout + deploy.stderr);
    assert.match(
      deploy.stdout,
      /Estimates from: built-in defaults \(no durations measured on these hosts yet\)/,
    );
    const first = JSON.parse((await mup(["plan", "show", "c1", "--json"], { home })).stdout);
    assert.equal(first.estimate_source.kind, "defaults");

    const file = path.join(clusterDir(home, "c1"), "history.json");
    const history = ClusterHistory.parse(JSON.parse(await Deno.readTextFile(file)));
    assert.equal(history.format_version, HISTORY_FORMAT_VERSION);
    assert.equal(history.applies, 1);
    const local = history.durations.localhost!;
    assert.equal(local.start_process?.count, 3, "one start per member");
    assert.equal(local.wait_for_process?.count, 3);
    assert.equal(local.init_replica_set?.count, 1);
    assert.equal(history.durations["(control)"]?.verify_health?.count, 1);

    // A new cluster on the same host: every operation that ran there is estimated from them.
    const p2 = freePorts(3);
    const t2 = await writeTopology(home, "c2.yaml", replicaSetTopology(p2));
    const planned = await mup(deployArgs("c2", t2, mirror, ["--plan-only", "--json"]), { home });
    assert.equal(planned.code, 0, output(planned));
    const plan: Plan = JSON.parse(planned.stdout).plan;
    assert.equal(plan.estimate_source?.clusters.join(), "c1");
    assert.equal(plan.estimate_source?.applies, 1);
    const ops = allOperations(plan);
    // The archive is cached now: its "download" keeps the constant (downloads measured ran).
    const cachedDownload = (o: (typeof ops)[number]) =>
      o.type === "download_binary" && o.changes.every((c) => c.action === "none");
    const measured = ops.filter((o) =>
      history.durations[o.target.host ?? "(control)"]?.[o.type] && !cachedDownload(o)
    );
    for (const op of measured) {
      const recorded = history.durations[op.target.host ?? "(control)"]![op.type]!.recent_ms;
      assert.equal(op.estimated_ms, median(recorded), `${op.id} estimated from history`);
    }
    assert.equal(plan.estimate_source?.measured_operations, measured.length);
    assert.ok(measured.some((o) => o.type === "start_process"));
    const show = await mup(["plan", "show", plan.plan_id], { home });
    assert.match(
      show.stdout,
      new RegExp(
        `Estimates from: durations measured in 1 earlier apply \\(cluster c1\\) for ${measured.length} of ${ops.length} operations; built-in defaults for the rest`,
      ),
    );
    // The critical path is made of those estimates.
    const graph = JSON.parse(
      (await mup(["plan", "graph", plan.plan_id, "--format", "json"], {
        home,
      })).stdout,
    );
    const byId = new Map(ops.map((o) => [o.id, o.estimated_ms]));
    assert.equal(
      graph.critical_path.length,
      graph.critical_path.path.reduce((n: number, id: string) => n + (byId.get(id) ?? 0), 0),
    );

    // c2's apply finds the archive in the cache: that is recorded apart, and a third plan's
    // cached download is estimated from it (not from c1's real download, not from the constant).
    const applied = await mup(["plan", "apply", plan.plan_id, "--auto-approve"], { home });
    assert.equal(applied.code, 0, applied.stdout + applied.stderr);
    const h2 = ClusterHistory.parse(
      JSON.parse(await Deno.readTextFile(path.join(clusterDir(home, "c2"), "history.json"))),
    );
    const hits = h2.durations.localhost?.download_binary?.in_place_ms ?? [];
    assert.equal(hits.length, 1, "the cache hit is recorded apart");
    const p3 = freePorts(3);
    const t3 = await writeTopology(home, "c3.yaml", replicaSetTopology(p3));
    const third: Plan = JSON.parse(
      (await mup(deployArgs("c3", t3, mirror, ["--plan-only", "--json"]), { home })).stdout,
    ).plan;
    const download = allOperations(third).find((o) => o.type === "download_binary")!;
    assert.ok(cachedDownload(download));
    assert.equal(download.estimated_ms, hits[0]);
    assert.deepEqual(third.estimate_source?.clusters, ["c1", "c2"]);

    // A primary's stop that hands over takes seconds of its own (the wait for a secondary and
    // the quiesce period): it is no sample of the stops later plans are estimated from
    // (tester112 A). A secondary's stop is one.
    const c1 = async () => ClusterHistory.parse(JSON.parse(await Deno.readTextFile(file)));
    const run = async (args: string[]) => {
      const r = await mup(args, { home });
      assert.equal(r.code, 0, output(r));
    };
    await run(["cluster", "stop", "c1", "-N", `localhost:${p1[2]}`, "--auto-approve"]);
    assert.equal((await c1()).durations.localhost?.stop_process?.count, 1);
    await run(["cluster", "start", "c1", "--auto-approve"]);
    await run(["cluster", "stop", "c1", "-N", `localhost:${p1[0]}`, "--auto-approve"]);
    const stopPlan: Plan = JSON.parse(
      (await mup(["plan", "show", "c1", "--json"], { home })).stdout,
    );
    const handsOver = allOperations(stopPlan).find((o) => o.type === "stop_process")!;
    assert.equal(handsOver.target.params.hands_over, "true", "the primary's stop was applied");
    const after = await c1();
    assert.equal(after.durations.localhost?.stop_process?.count, 1, "not counted");
    assert.equal(after.applies, 4, "the stop's apply is in the history all the same");
  } finally {
    await killAll(home);
  }
});
