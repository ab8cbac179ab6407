/**
 * Steps shared by the lifecycle tests (tests/lifecycle_test.ts, lifecycle_sharded_test.ts):
 * stop/start keeps the data, a rolling restart under a majority-writing client.
 */
import assert from "node:assert/strict";
import { authOptions, withClient } from "./apply_helpers.ts";
import { display, livePids, ok, portFree, WriteLoad } from "./lifecycle_helpers.ts";

export const exists = (p: string) => Deno.stat(p).then(() => true, () => false);

/** stop → nothing left → display DOWN → start → healthy, with the data written before. */
export async function stopStartKeepsData(home: string, name: string, ports: number[], uri: string) {
  await withClient(
    uri,
    (c) =>
      c.db("t").collection("kept").insertOne({ _id: 1, v: "before stop" } as never, {
        writeConcern: { w: "majority" },
      }),
    { home, cluster: name },
  );
  const stop = await ok(home, ["cluster", "stop", name, "--auto-approve"]);
  assert.match(stop.stdout, /Stop completed successfully!/);
  assert.deepEqual(await livePids(home, name), [], "no process left");
  for (const p of ports) assert.ok(portFree(p), `port ${p} is free`);
  const down = await display(home, name, 1);
  assert.ok(down.processes.every((p) => p.state === "DOWN" && p.reason === "connection refused"));
  await ok(home, ["cluster", "display", name, "--detailed-exitcode"], 2);
  const again = await ok(home, ["cluster", "stop", name, "--auto-approve"]);
  assert.match(again.stdout, new RegExp(`No changes\\. Cluster ${name} is already stopped\\.`));
  const list = JSON.parse((await ok(home, ["cluster", "list", "--json"])).stdout);
  assert.equal(list.find((c: { name: string }) => c.name === name).status, "stopped");

  const start = await ok(home, ["cluster", "start", name, "--auto-approve"]);
  assert.match(start.stdout, /Verified cluster health/);
  const up = await display(home, name);
  assert.ok(up.healthy);
  const doc = await withClient(
    uri,
    (c) => c.db("t").collection("kept").findOne({ _id: 1 } as never),
    { home, cluster: name },
  );
  assert.equal(doc?.v, "before stop");
}

/**
 * Rolling restart while a client writes with w:"majority"; returns the acknowledged writes that
 * are missing afterwards (none, with a server that keeps MongoDB's promise), checked by the
 * caller once the rest of its test has run.
 */
export async function rollingUnderLoad(home: string, name: string, uri: string): Promise<number[]> {
  const load = new WriteLoad(uri, "load", await authOptions({ home, cluster: name }));
  try {
    while (load.acked.length < 20) await new Promise((r) => setTimeout(r, 20));
    const t0 = performance.now();
    const r = await ok(home, ["cluster", "restart", name, "--auto-approve"]);
    const ms = performance.now() - t0;
    assert.match(r.stdout, /Step down/);
    assert.match(r.stdout, /Restart completed successfully!/);
    const before = load.acked.length;
    while (load.acked.length < before + 20) await new Promise((r) => setTimeout(r, 20));
    await load.stop();
    const missing = await load.missing();
    console.log(
      `${name}: rolling restart ${
        ms.toFixed(0)
      } ms; ${load.acked.length} acknowledged writes, ${load.failures} failed attempts; longest gap without a successful write ${
        load.longestGapMs.toFixed(0)
      } ms${missing.length ? `; acknowledged but missing: ${missing.join(", ")}` : ""}`,
    );
    return missing;
  } finally {
    await load.stop();
    await load.close();
  }
}
