/**
 * remove_directory against the real file system (local executor): what a destroy removes from a
 * directory that may hold the operator's files, what it says it kept, and that isDone sees it.
 */
import assert from "node:assert/strict";
import { DefaultExecutors } from "../lib/executor/factory.ts";
import { removeDirectory } from "../lib/ops/remove_directory.ts";
import type { OperationContext } from "../lib/ops/operation.ts";
import { syntheticPlan } from "./synthetic.ts";
import { installFixture, tempDir } from "./fixture.ts";

installFixture();

function ctx(params: Record<string, string>): OperationContext {
  return {
    op: {
      id: "rm",
      type: "remove_directory",
      description: "",
      target: { type: "host", name: "localhost", host: "localhost", params },
      pre_conditions: [],
      changes: [],
      depends_on: [],
      parallel: true,
      estimated_ms: 1,
    },
    plan: syntheticPlan(1, 1, 1),
    stateId: "s",
    executors: new DefaultExecutors(),
    signal: new AbortController().signal,
    progress: () => {},
    log: () => {},
  };
}

async function put(dir: string, names: string[]): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  for (const n of names) await Deno.writeTextFile(`${dir}/${n}`, n);
}

const names = async (d: string) =>
  (await Array.fromAsync(Deno.readDir(d))).map((e) => e.name).sort();

Deno.test("own_files: only the files named go; the rest is reported kept, and the removal is then done (a resume changes nothing)", async () => {
  const dir = `${await tempDir()}/secrets`;
  await put(dir, ["keyfile", "ca.pem", "keyfile.mup-tmp", "my-app-tls.pem"]);
  const c = ctx({ path: dir, own_files: JSON.stringify(["keyfile", "ca.pem"]) });
  assert.equal(await removeDirectory.isDone(c), false);
  const out = await removeDirectory.run(c);
  assert.equal(
    out.notice,
    `kept localhost:${dir}: it holds files mup did not make (my-app-tls.pem)`,
  );
  assert.deepEqual(await names(dir), ["my-app-tls.pem"]);
  // What the apply records as changed: mup's files, not the directory (it is still there).
  assert.deepEqual(out.changes?.map((ch) => [ch.resource_id, ch.action]).sort(), [
    [`localhost:${dir}/ca.pem`, "delete"],
    [`localhost:${dir}/keyfile`, "delete"],
    [`localhost:${dir}/keyfile.mup-tmp`, "delete"],
  ]);
  assert.equal(await removeDirectory.isDone(c), true, "only the operator's files are left");

  await Deno.remove(`${dir}/my-app-tls.pem`);
  await put(dir, ["keyfile"]);
  assert.equal(await removeDirectory.isDone(c), false);
  await removeDirectory.run(c);
  assert.equal(await Deno.stat(dir).catch(() => null), null, "emptied: removed");
  assert.equal(await removeDirectory.isDone(c), true);
});

Deno.test("if_empty in a destroy names what keeps a shared parent, unless it is only the cluster's own kept directories or the retained data; a rollback's says only that it kept it", async () => {
  const root = await tempDir();
  const dir = `${root}/conf`;
  await put(`${dir}/mongod-1`, ["override.conf"]);
  const inner = JSON.stringify([`${dir}/mongod-1`]);
  const destroy = ctx({ path: dir, if_empty: "true", report_kept: "true", inner });
  assert.equal(
    (await removeDirectory.run(destroy)).notice,
    undefined,
    "mongod-1 speaks for itself",
  );

  await put(`${dir}/data`, ["WiredTiger"]);
  const retained = ctx({
    path: dir,
    if_empty: "true",
    report_kept: "true",
    inner,
    retained_data: JSON.stringify([`${dir}/data`]),
  });
  assert.equal((await removeDirectory.run(retained)).notice, undefined, "the warning names it");

  await put(dir, ["a", "b", "c", "d"]);
  const kept = await removeDirectory.run(retained);
  assert.deepEqual(kept.changes, [], "kept: nothing deleted, whatever the plan said");
  assert.equal(
    kept.notice,
    `kept localhost:${dir}: it holds the retained data and entries that are not this ` +
      "cluster's (a, b, c and 1 more)",
  );
  assert.equal(await removeDirectory.isDone(retained), false, "not empty: rechecked on resume");
  // A rollback's tidying does not know what the entries are: it says only that it kept the
  // directory (it said nothing, and the apply showed "✓ Remove … if empty": tester50).
  const rollback = ctx({ path: dir, if_empty: "true" });
  const quiet = await removeDirectory.run(rollback);
  assert.deepEqual([quiet.notice, quiet.changes], [`kept localhost:${dir}: not empty`, []]);
  assert.deepEqual(await names(dir), ["a", "b", "c", "d", "data", "mongod-1"]);
});
