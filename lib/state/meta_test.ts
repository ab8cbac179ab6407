import assert from "node:assert/strict";
import { Topology } from "../topology/schema.ts";
import { type ClusterMeta, metaCopyPath, metaPath, readMeta, writeMeta } from "./meta.ts";

function record(serial: number): ClusterMeta {
  return {
    format_version: 1,
    name: "m",
    lineage: "l",
    serial,
    status: "running",
    kind: "standalone",
    version: "7.0.14",
    variant: "mongo",
    deploy_dir: "/opt/mongodb",
    connection_string: "mongodb://localhost:27017",
    topology: Topology.parse({ mongod_servers: [{ host: "localhost", port: 27017 }] }),
    processes: [],
    created_at: "2026-12-04T00:00:00.000Z",
    updated_at: "2026-12-04T00:00:00.000Z",
    last_plan_id: "plan-0",
    last_state_id: "apply-0",
  };
}

Deno.test("meta.yaml against mup's copy: a crash between the copy's write and meta.yaml's leaves the copy newer, which is put in place; a different meta.yaml newer than the copy was edited by hand and is refused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeMeta(dir, record(1));
    assert.equal((await readMeta(dir))?.serial, 1);
    // The crash: the copy of serial 2 written, meta.yaml still serial 1 and older.
    const old = await Deno.readTextFile(metaPath(dir));
    await writeMeta(dir, record(2));
    await Deno.writeTextFile(metaPath(dir), old);
    const past = new Date(Date.now() - 60_000);
    await Deno.utime(metaPath(dir), past, past);
    assert.equal((await readMeta(dir))?.serial, 2);
    assert.equal(
      await Deno.readTextFile(metaPath(dir)),
      await Deno.readTextFile(metaCopyPath(dir)),
    );
    // An edit by hand: meta.yaml newer than the copy and not its record.
    const healed = await Deno.readTextFile(metaPath(dir));
    await Deno.writeTextFile(metaPath(dir), healed.replace("status: running", "status: stopped"));
    await assert.rejects(
      readMeta(dir),
      /was changed outside mup: status is "stopped" there, "running" in the record mup wrote \(serial 2/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
