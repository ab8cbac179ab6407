/**
 * `deno task demo`: mup's main job, offline. Builds a local download mirror whose binaries start
 * the MongoDB simulator, then deploys examples/sharded.yaml (2 shards × 3 members, 3 config
 * servers, 1 mongos) through plan → review → apply, and uses the cluster with the driver.
 *
 *   deno task demo            deploy, use, then stop the cluster
 *   deno task demo --keep     leave it running (MUP_HOME is printed)
 */
import * as path from "node:path";
import { MongoClient } from "mongodb";
import { buildMirror } from "../sim/mirror.ts";
import { signalPidFiles } from "./_pids.ts";
import { mupRunArgs } from "./_mup_cmd.ts";

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const keep = Deno.args.includes("--keep");
const home = Deno.env.get("MUP_HOME") ?? await Deno.makeTempDir({ prefix: "mup-demo-" });
const mirror = path.join(home, "mirror");
const topology = path.join(ROOT, "examples", "sharded.yaml");

async function mup(args: string[], input?: string): Promise<number> {
  console.log(`\n$ mup ${args.join(" ")}`);
  const child = new Deno.Command(Deno.execPath(), {
    args: mupRunArgs(args),
    env: { MUP_HOME: home },
    stdin: input ? "piped" : "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  if (input) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(input));
    await w.close();
  }
  return (await child.status).code;
}

async function stopCluster(): Promise<void> {
  const n = await signalPidFiles(
    path.join(home, "storage", "clusters", "demo", "deploy"),
    "SIGTERM",
  );
  console.log(`\nStopped ${n} processes (run with --keep to leave the cluster running).`);
}

console.log(`mup demo: MUP_HOME=${home}`);
console.log(`Building a local download mirror (simulated MongoDB 6.0/7.0/8.0) in ${mirror} ...`);
await buildMirror(mirror);

let code = await mup([
  "cluster",
  "deploy",
  "demo",
  topology,
  "--version",
  "7.0",
  "--mirror",
  mirror,
  "--plan-only",
]);
if (code === 0) code = await mup(["plan", "apply", "demo"], "yes\n");
if (code === 0) {
  const uri = "mongodb://localhost:27017/";
  console.log(`\nUsing the cluster through mongos with the MongoDB driver (${uri}):`);
  const c = new MongoClient(uri);
  try {
    const shards = (await c.db("admin").command({ listShards: 1 })).shards;
    for (const s of shards) console.log(`  shard ${s._id}: ${s.host}`);
    await c.db("demo").collection("greetings").insertOne({ hello: "world", at: new Date() });
    console.log(
      `  inserted and read back: ${
        JSON.stringify(
          await c.db("demo").collection("greetings").findOne({}, {
            projection: { _id: 0, hello: 1 },
          }),
        )
      }`,
    );
  } finally {
    await c.close();
  }
  await mup(["state", "show", "demo"]);
}
if (!keep) await stopCluster();
else console.log(`\nThe cluster is running. MUP_HOME=${home}`);
Deno.exit(code);
