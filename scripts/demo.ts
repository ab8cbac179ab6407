/**
 * `deno task demo`: mup's main job, offline. Builds a local download mirror whose binaries start
 * the MongoDB simulator, then deploys examples/sharded.yaml (2 shards × 3 members, 3 config
 * servers, 1 mongos) through plan → review → apply, and uses the cluster with the driver.
 *
 *   deno task demo                    deploy, use, then stop the cluster (and remove the temporary
 *                                     MUP_HOME it made; one given in MUP_HOME is left as it is)
 *   deno task demo --keep             leave it running (prints the command that stops it)
 *   deno task demo --topology FILE    deploy FILE (sharded, replica set or standalone; a relative
 *                                     path is read from the directory deno task was run in)
 *   deno task demo --base-port PORT   the topology's ports moved so that its lowest is PORT (the
 *                                     example's 27017–27026 clash with a mongod already running);
 *                                     the moved copy is MUP_HOME/topology.yaml
 *   MUP_HOME=DIR deno task demo --stop   stop a demo cluster left running (`mup cluster stop`;
 *                                        a first deploy that did not finish is rolled back);
 *                                        without MUP_HOME, the one demo home in the temp
 *                                        directory holding a cluster to stop
 *
 * A failed demo says which step failed and why, exits 1, leaves the cluster as it is, and prints
 * a command that resumes the apply when pasted into a shell (MUP_HOME and how to run mup included).
 */
import * as path from "node:path";
import { parseArgs } from "node:util";
import { MongoClient } from "mongodb";
import { isMap, isSeq, parseDocument } from "yaml";
import { buildMirror } from "../sim/mirror.ts";
import { readMeta } from "../lib/state/meta.ts";
import { securityOf } from "../lib/security/settings.ts";
import { mupRunArgs } from "./_mup_cmd.ts";
import { demoHomes, HOME_PREFIX, tempRoot } from "./_demo_homes.ts";

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const USAGE = "usage: deno task demo [--keep] [--topology FILE] [--base-port PORT] | --stop";
const args = demoArgs();
const keep = args.keep === true;
const stopping = args.stop === true;
// `deno task` runs in the repository's directory; a relative path is the user's, from where
// they ran it (INIT_CWD).
const topology = args.topology !== undefined
  ? path.resolve(Deno.env.get("INIT_CWD") ?? Deno.cwd(), args.topology)
  : path.join(ROOT, "examples", "sharded.yaml");
const basePort = basePortArg(args["base-port"]);
// Read and moved before anything is made, so that a bad file or port leaves nothing behind.
const movedTopology = basePort === undefined || stopping
  ? undefined
  : await movedPorts(topology, basePort);
const givenHome = Deno.env.get("MUP_HOME");
const home = givenHome ??
  (stopping ? await foundHome() : await Deno.makeTempDir({ prefix: HOME_PREFIX }));
const mirror = path.join(home, "mirror");
const clusterDir = path.join(home, "storage", "clusters", "demo");

/**
 * The demo's options (node:util parseArgs: `--opt value` or `--opt=value`); an unknown option,
 * an argument, or an option without its value exits 1 with the usage. `--help` prints it.
 */
function demoArgs() {
  try {
    const { values } = parseArgs({
      args: Deno.args,
      options: {
        keep: { type: "boolean" },
        stop: { type: "boolean" },
        topology: { type: "string" },
        "base-port": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    });
    if (values.help) {
      console.log(USAGE);
      Deno.exit(0);
    }
    return values;
  } catch (e) {
    console.error(`Error: ${(e as Error).message}\n${USAGE}`);
    Deno.exit(1);
  }
}

/** `--base-port PORT`'s port, checked (exits 1 with the reason); undefined without it. */
function basePortArg(given: string | undefined): number | undefined {
  if (given === undefined) return undefined;
  const port = Number(given);
  if (!given || !/^\d+$/.test(given) || port < 1024 || port > 65535) {
    console.error(
      `Error: --base-port needs a port from 1024 to 65535 (got ${given ?? "nothing"}): ` +
        "deno task demo --base-port 37017",
    );
    Deno.exit(1);
  }
  return port;
}

/**
 * The topology at `file` with every port moved by the same amount so that the lowest is `base`
 * (an entry without a port has 27017, the topology's default; a port 0 stays 0: picked at
 * deploy), as YAML with its comments kept; exits 1 when a port would pass 65535.
 */
async function movedPorts(file: string, base: number): Promise<string> {
  const text = await Deno.readTextFile(file).catch((e) => {
    console.error(`Error: cannot read ${file}: ${(e as Error).message}`);
    Deno.exit(1);
  });
  const doc = parseDocument(text);
  const entries = ["config_servers", "mongod_servers", "mongos_servers"].flatMap((key) => {
    const list = doc.get(key);
    return isSeq(list) ? list.items.filter(isMap) : [];
  });
  const portOf = (e: (typeof entries)[number]) => Number(e.get("port") ?? 27017);
  const ports = entries.map(portOf).filter((p) => p !== 0);
  if (!ports.length) return doc.toString();
  const shift = base - Math.min(...ports);
  if (Math.max(...ports) + shift > 65535) {
    console.error(
      `Error: --base-port ${base} moves ${file}'s highest port (${Math.max(...ports)}) past ` +
        `65535: give a base port of at most ${65535 - Math.max(...ports) + Math.min(...ports)}`,
    );
    Deno.exit(1);
  }
  for (const e of entries) if (portOf(e) !== 0) e.set("port", portOf(e) + shift);
  return doc.toString();
}

/**
 * `--stop` without MUP_HOME: the demo home (a temp dir the demo made) holding a cluster to stop,
 * when there is exactly one; otherwise says which MUP_HOME to give, and exits 1.
 */
async function foundHome(): Promise<string> {
  const found = await demoHomes();
  if (found.length === 1) {
    console.log(`MUP_HOME is not set: stopping the demo cluster in MUP_HOME=${found[0]}`);
    return found[0];
  }
  if (!found.length) {
    console.log(
      `No demo cluster to stop in ${tempRoot()}/${HOME_PREFIX}*. Give the MUP_HOME the demo ` +
        `printed: MUP_HOME=DIR deno task demo --stop`,
    );
  } else {
    console.log(`MUP_HOME is not set, and ${found.length} demo homes hold a cluster; give one:`);
    for (const h of found) console.log(`  ${stopCommand(h)}`);
  }
  Deno.exit(1);
}

/** Quotes a word for a POSIX shell. */
function sh(s: string): string {
  return /^[A-Za-z0-9_./:=@+-]+$/.test(s) ? s : `'${s.replaceAll("'", `'"'"'`)}'`;
}

/** A command line that stops the demo cluster in `dir` when pasted into a shell anywhere. */
function stopCommand(dir: string): string {
  return `cd ${sh(ROOT)} && MUP_HOME=${sh(dir)} npx -y deno@${Deno.version.deno} task demo --stop`;
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
    console.log(`  ${stopCommand(home)}`);
  } else {
    // Nothing runs: the demo's MUP_HOME (its mirror, the plan) is of no further use.
    console.log("Nothing was started.");
    if (!Deno.env.get("MUP_HOME")) await Deno.remove(home, { recursive: true }).catch(() => {});
  }
  Deno.exit(1);
}

if (stopping) {
  const code = await stopCluster();
  console.log(
    code === "nothing"
      ? `\nNo demo cluster was ever started in ${home}: nothing to stop.`
      : code === 0
      ? `\nStopped the demo cluster in ${home}.`
      : `\nStopping the demo cluster in ${home} FAILED: mup exited with ${code}.`,
  );
  // The demo's own temporary home, found or given (the printed stop command gives it): its
  // files stay, for a look at the logs, and the hint says how to remove them.
  if (code === 0 && path.basename(home).startsWith(HOME_PREFIX)) {
    console.log(`Its files stay there; \`rm -rf ${sh(home)}\` removes them.`);
  }
  Deno.exit(code === 0 || code === "nothing" ? 0 : 1);
}

console.log(`mup demo: MUP_HOME=${home}`);
console.log(`Building a local download mirror (simulated MongoDB 6.0/7.0/8.0) in ${mirror} ...`);
await buildMirror(mirror);
// The moved copy lives in MUP_HOME: the cluster's commands read its hooks from there.
const deployed = movedTopology === undefined ? topology : path.join(home, "topology.yaml");
if (movedTopology !== undefined) {
  await Deno.writeTextFile(deployed, movedTopology);
  console.log(`Ports moved to start at ${basePort}: ${deployed}`);
}

const planned = await mup([
  "cluster",
  "deploy",
  "demo",
  deployed,
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

/**
 * Uses the deployed cluster with the driver, through what its topology has: mongos, the replica
 * set, or the standalone mongod; `fail`s (exits) on any problem.
 */
async function useCluster(): Promise<void> {
  // The addresses as deployed (a port 0 in the topology is only known after the deploy).
  const meta = await readMeta(clusterDir);
  if (!meta?.connection_string) {
    return await fail(
      "finding the cluster",
      `no connection string recorded in ${clusterDir}`,
      false,
    );
  }
  const server = meta.kind === "sharded"
    ? "mongos"
    : meta.kind === "replica_set"
    ? `replica set ${meta.topology.mongod_servers[0].replica_set}`
    : "the standalone mongod";
  const auth = securityOf(meta.topology).auth;
  const cred = auth
    ? JSON.parse(await mupOutput(["cluster", "credentials", "demo", "--json"]))
    : undefined;
  // The credentials' string names the CA under TLS; the user and password go as options, so
  // that the address printed holds no password.
  const uri = withOption(
    stripParam(
      (cred?.connection_string ?? meta.connection_string).replace(/\/\/[^@/]*@/, "//"),
      "authSource",
    ),
    "serverSelectionTimeoutMS=15000",
  );
  if (auth) {
    // mup secures clusters by default: without credentials the server answers hello and
    // refuses data.
    const anonymous = new MongoClient(uri);
    try {
      await anonymous.db("demo").collection("greetings").findOne({});
      await fail(
        "the access control check",
        `${server} served a client without credentials`,
        false,
      );
    } catch (e) {
      const code = (e as { code?: number }).code;
      if (code !== 13) await fail("the access control check", (e as Error).message, false);
      console.log(
        `\nWithout credentials ${server} refuses to read: ${(e as Error).message} (code 13)`,
      );
    } finally {
      await anonymous.close();
    }
  } else console.log(`\nThe topology turns access control off (auth: false): no credentials.`);
  console.log(
    `\nUsing ${server} with the MongoDB driver${cred ? ` as ${cred.user}` : ""} (${uri}):`,
  );
  const c = new MongoClient(
    uri,
    cred ? { auth: { username: cred.user, password: cred.password }, authSource: "admin" } : {},
  );
  try {
    const adminDb = c.db("admin");
    if (meta.kind === "sharded") {
      const shards = (await adminDb.command({ listShards: 1 })).shards;
      for (const s of shards) console.log(`  shard ${s._id}: ${s.host}`);
    } else if (meta.kind === "replica_set") {
      const members = (await adminDb.command({ replSetGetStatus: 1 })).members;
      for (const m of members) console.log(`  member ${m.name}: ${m.stateStr}`);
    } else {
      const info = await adminDb.command({ buildInfo: 1 });
      console.log(`  mongod ${uri.match(/^mongodb:\/\/([^/?]+)/)?.[1]}: version ${info.version}`);
    }
    await c.db("demo").collection("greetings").insertOne({ hello: "world", at: new Date() });
    const back = await c.db("demo").collection("greetings").findOne({}, {
      projection: { _id: 0, hello: 1 },
    });
    console.log(`  inserted and read back: ${JSON.stringify(back)}`);
  } catch (e) {
    const through = meta.kind === "sharded" ? "through mongos" : `of ${server}`;
    await fail(`the health check ${through}`, (e as Error).message, false);
  } finally {
    await c.close();
  }
}

/** `uri` with the query parameter `name` taken out. */
function stripParam(uri: string, name: string): string {
  const [base, query] = uri.split("?");
  const kept = (query ?? "").split("&").filter((p) => p && !p.startsWith(`${name}=`));
  return kept.length ? `${base}?${kept.join("&")}` : base;
}

/** `uri` with the query parameter `param` (`name=value`) added. */
function withOption(uri: string, param: string): string {
  return `${uri}${uri.includes("?") ? "&" : "?"}${param}`;
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
  if (givenHome) {
    console.log(`Its files (mirror, download cache, the cluster's data) stay in MUP_HOME=${home}.`);
  } else {
    // The demo made this home; nothing in it is of use once the cluster is stopped.
    await Deno.remove(home, { recursive: true });
    console.log(`Removed the demo's MUP_HOME ${home} (its mirror, download cache and data).`);
  }
} else {
  console.log(`\nThe cluster is running and healthy. MUP_HOME=${home}`);
  console.log("To stop it, paste:");
  console.log(`  ${stopCommand(home)}`);
}
Deno.exit(0);
