/**
 * `deno task demo`: mup's main job, offline. Builds a local download mirror whose binaries start
 * the MongoDB simulator, then deploys examples/sharded.yaml (2 shards × 3 members, 3 config
 * servers, 1 mongos) through plan → review → apply, and uses the cluster with the driver.
 *
 *   deno task demo                    deploy, use, then stop the cluster
 *   deno task demo --keep             leave it running (MUP_HOME is printed)
 *   deno task demo --topology FILE    deploy FILE instead of examples/sharded.yaml
 *   MUP_HOME=DIR deno task demo --stop   stop a demo cluster left running (`mup cluster stop`;
 *                                        a first deploy that did not finish is rolled back)
 *
 * A failed demo says which step failed and why, exits 1, leaves the cluster as it is, and prints
 * a command that resumes the apply when pasted into a shell (MUP_HOME and how to run mup included).
 */
import * as path from "node:path";
import { MongoClient } from "mongodb";
import { buildMirror } from "../sim/mirror.ts";
import { readMeta } from "../lib/state/meta.ts";
import { mupRunArgs } from "./_mup_cmd.ts";

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const keep = Deno.args.includes("--keep");
const topoArg = Deno.args.indexOf("--topology");
const topology = topoArg >= 0
  ? path.resolve(Deno.args[topoArg + 1] ?? "")
  : path.join(ROOT, "examples", "sharded.yaml");
const home = Deno.env.get("MUP_HOME") ?? await Deno.makeTempDir({ prefix: "mup-demo-" });
const mirror = path.join(home, "mirror");
const clusterDir = path.join(home, "storage", "clusters", "demo");

/** Quotes a word for a POSIX shell. */
function sh(s: string): string {
  return /^[A-Za-z0-9_./:=@+-]+$/.test(s) ? s : `'${s.replaceAll("'", `'"'"'`)}'`;
}

/** A command line that runs `mup args` when pasted into a shell anywhere. */
function pasteable(args: string[]): string {
  return `cd ${sh(ROOT)} && MUP_HOME=${sh(home)} npx -y deno@${Deno.version.deno} task mup ${
    args.map(sh).join(" ")
  }`;
}

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

/** Runs mup and returns what it printed on stdout (not echoed: it may hold a password). */
async function mupOutput(args: string[]): Promise<string> {
  console.log(`\n$ mup ${args.join(" ")}    (output read by the demo, not shown)`);
  const out = await new Deno.Command(Deno.execPath(), {
    args: mupRunArgs(args),
    env: { MUP_HOME: home },
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (out.code !== 0) {
    await fail("reading the credentials", `mup ${args[1]} exited with ${out.code}`, false);
  }
  return new TextDecoder().decode(out.stdout);
}

/**
 * Stops the demo cluster through mup, so its metadata records it stopped. A first deploy that
 * did not finish has no metadata to stop by: rolling it back to its start stops what it started.
 * Returns mup's exit code.
 */
async function stopCluster(): Promise<number | "nothing"> {
  if (await readMeta(clusterDir).catch(() => undefined)) {
    return await mup(["cluster", "stop", "demo", "--auto-approve"]);
  }
  if (!(await startedAnything())) return "nothing";
  return await mup(["state", "rollback", "demo", "--checkpoint", "start", "--auto-approve"]);
}

/** Whether an apply of the demo cluster ever began (it records its state before it starts). */
async function startedAnything(): Promise<boolean> {
  return await Deno.stat(path.join(clusterDir, "state")).then(() => true, () => false);
}

async function fail(step: string, reason: string, resumable: boolean): Promise<never> {
  console.log(`\nThe demo FAILED: ${step}: ${reason}`);
  if (resumable) {
    console.log("The cluster was left as it is. To resume the apply, paste:");
    console.log(`  ${pasteable(["plan", "resume", "demo"])}`);
    console.log("(mup's own hint above assumes a `mup` on your PATH and your MUP_HOME.)");
  }
  if (await startedAnything()) {
    console.log("To stop what the demo started instead, paste:");
    console.log(
      `  cd ${sh(ROOT)} && MUP_HOME=${sh(home)} npx -y deno@${Deno.version.deno} task demo --stop`,
    );
  } else {
    // Nothing runs: the demo's MUP_HOME (its mirror, the plan) is of no further use.
    console.log("Nothing was started.");
    if (!Deno.env.get("MUP_HOME")) await Deno.remove(home, { recursive: true }).catch(() => {});
  }
  Deno.exit(1);
}

if (Deno.args.includes("--stop")) {
  const code = await stopCluster();
  console.log(
    code === "nothing"
      ? `\nNo demo cluster was ever started in ${home}: nothing to stop.`
      : code === 0
      ? `\nStopped the demo cluster in ${home}.`
      : `\nStopping the demo cluster in ${home} FAILED: mup exited with ${code}.`,
  );
  Deno.exit(code === 0 || code === "nothing" ? 0 : 1);
}

console.log(`mup demo: MUP_HOME=${home}`);
console.log(`Building a local download mirror (simulated MongoDB 6.0/7.0/8.0) in ${mirror} ...`);
await buildMirror(mirror);

const planned = await mup([
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
if (planned !== 0) {
  await fail("planning", `mup cluster deploy --plan-only exited with ${planned}`, false);
}
const applied = await mup(["plan", "apply", "demo"], "yes\n");
if (applied !== 0) await fail("applying the plan", `mup plan apply exited with ${applied}`, true);

/** Uses the deployed cluster through mongos with the driver; `fail`s (exits) on any problem. */
async function useCluster(): Promise<void> {
  // The mongos address as deployed (a port 0 in the topology is only known after the deploy).
  const meta = await readMeta(clusterDir);
  const mongos = meta?.connection_string.match(/^mongodb:\/\/(?:[^@/]*@)?([^,/?]+)/)?.[1];
  if (!mongos) {
    await fail("finding mongos", `no connection string recorded in ${clusterDir}`, false);
  }
  const uri = `mongodb://${mongos}/?serverSelectionTimeoutMS=15000`;
  // mup secures clusters by default: without credentials mongos answers hello and refuses data.
  const anonymous = new MongoClient(uri);
  try {
    await anonymous.db("demo").collection("greetings").findOne({});
    await fail("the access control check", "mongos served a client without credentials", false);
  } catch (e) {
    const code = (e as { code?: number }).code;
    if (code !== 13) await fail("the access control check", (e as Error).message, false);
    console.log(`\nWithout credentials mongos refuses to read: ${(e as Error).message} (code 13)`);
  } finally {
    await anonymous.close();
  }
  const cred = JSON.parse(await mupOutput(["cluster", "credentials", "demo", "--json"]));
  console.log(
    `\nUsing the cluster through mongos with the MongoDB driver as ${cred.user} (${uri}):`,
  );
  const c = new MongoClient(uri, {
    auth: { username: cred.user, password: cred.password },
    authSource: "admin",
  });
  try {
    const shards = (await c.db("admin").command({ listShards: 1 })).shards;
    for (const s of shards) console.log(`  shard ${s._id}: ${s.host}`);
    await c.db("demo").collection("greetings").insertOne({ hello: "world", at: new Date() });
    const back = await c.db("demo").collection("greetings").findOne({}, {
      projection: { _id: 0, hello: 1 },
    });
    console.log(`  inserted and read back: ${JSON.stringify(back)}`);
  } catch (e) {
    await fail("the health check through mongos", (e as Error).message, false);
  } finally {
    await c.close();
  }
}

// Whatever goes wrong after the deploy is reported as the demo's failure, never as a stack trace.
await useCluster().catch((e) =>
  fail("using the cluster", (e as Error).message ?? String(e), false)
);
await mup(["state", "show", "demo"]);
if (!keep) {
  const code = await stopCluster();
  if (code !== 0 && code !== "nothing") {
    await fail("stopping the cluster", `mup cluster stop exited with ${code}`, false);
  }
  console.log(`\nStopped the cluster (run with --keep to leave it running).`);
} else console.log(`\nThe cluster is running and healthy. MUP_HOME=${home}`);
Deno.exit(0);
