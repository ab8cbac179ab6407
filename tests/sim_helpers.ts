import * as path from "node:path";
import { EJSON } from "bson";
import { type Db, type Document, MongoClient, MongoServerError } from "mongodb";
import assert from "node:assert/strict";
import { freePorts, killAll, output, ROOT, testMirror } from "./helpers.ts";
import { deadline, trackChild, trackDir } from "./fixture.ts";
import { platformTargets } from "../sim/mirror.ts";
import { failsFirstCheck } from "../lib/mongo/client.ts";

/** bin/ of a simulated release, unpacked from the test mirror like a user would. */
export async function simBin(version: string): Promise<string> {
  const mirror = await testMirror();
  const { arch, targets } = await platformTargets();
  const name = `mongodb-linux-${arch}-${targets[0]}-${version}`;
  const dir = path.join(mirror, "unpacked");
  const bin = path.join(dir, name, "bin");
  try {
    await Deno.stat(bin);
  } catch {
    await Deno.mkdir(dir, { recursive: true });
    const r = await new Deno.Command("tar", {
      args: ["-xzf", path.join(mirror, "linux", `${name}.tgz`), "-C", dir],
    }).output();
    if (r.code !== 0) throw new Error("cannot unpack test tarball");
  }
  return bin;
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runBin(
  bin: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<Run> {
  const out = await trackChild(
    new Deno.Command(bin, {
      args,
      env,
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
    }).spawn(),
    `${path.basename(bin)} ${args.join(" ")}`,
  ).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

/** Starts a forked mongod; dbpath, log and pid file live under `dir/<port>`. */
export async function startMongod(
  bin: string,
  dir: string,
  port: number,
  extra: string[] = [],
  env: Record<string, string> = {},
): Promise<Run> {
  const d = path.join(dir, String(port));
  await Deno.mkdir(d, { recursive: true });
  return await runBin(path.join(bin, "mongod"), [
    "--port",
    String(port),
    "--dbpath",
    d,
    "--fork",
    "--logpath",
    path.join(d, "log"),
    "--pidfilepath",
    path.join(d, "mongod.pid"),
    "--bind_ip",
    "127.0.0.1",
    ...extra,
  ], env);
}

export function pidOf(dir: string, port: number): number {
  return Number(Deno.readTextFileSync(path.join(dir, String(port), "mongod.pid")).trim());
}

export async function admin(
  port: number,
  cmd: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  // A server that refuses is known at the driver's first check; one that accepts gets 30 s,
  // so a loaded machine cannot make a live server look dead.
  const c = new MongoClient(
    `mongodb://localhost:${port}/?directConnection=true&serverSelectionTimeoutMS=30000`,
  );
  const refusal = failsFirstCheck(c);
  try {
    const work = c.db("admin").command(cmd);
    work.catch(() => {});
    return await Promise.race([work, refusal.promise]);
  } finally {
    refusal.stop();
    await c.close();
  }
}

export async function adminError(
  port: number,
  cmd: Record<string, unknown>,
): Promise<{ code: number; codeName: string; message: string }> {
  try {
    await admin(port, cmd);
  } catch (e) {
    const err = e as { code: number; codeName: string; message: string };
    return { code: err.code, codeName: err.codeName, message: err.message };
  }
  throw new Error(`expected ${JSON.stringify(cmd)} to fail`);
}

/**
 * Polls `f` every 100 ms until it gives a value other than undefined/false; fails after
 * deadline(ms) (scaled by MUP_TEST_SLOWDOWN, so a loaded machine does not hit it).
 */
export async function waitFor<T>(f: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const end = Date.now() + deadline(ms);
  while (Date.now() < end) {
    const v = await f().catch(() => undefined);
    if (v !== undefined && v !== false) return v as T;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`condition not met within ${deadline(ms)} ms`);
}

/**
 * The port of whichever of `ports` says it is the writable primary, waited for up to `ms`
 * (a member that does not answer is passed over).
 */
export function primaryAmong(ports: number[], ms = 30_000): Promise<number> {
  return waitFor(async () => {
    for (const p of ports) {
      if ((await admin(p, { hello: 1 }).catch(() => undefined))?.isWritablePrimary) return p;
    }
    return undefined;
  }, ms);
}

/** Codes a primary answers when it stops being primary under a command (step down, election). */
const STATE_CHANGE = new Set([10107, 13435, 189, 11602, 11600, 91]);

/**
 * Runs `cmd` on whichever of `ports` is primary, again on the next primary when a step down
 * interrupts it (a loaded machine can miss heartbeats; the write concern then fails with 189
 * PrimarySteppedDown). Only for commands that are safe to repeat, such as
 * setFeatureCompatibilityVersion. Any other error is thrown at once.
 */
export async function adminOnPrimary(
  ports: number[],
  cmd: Record<string, unknown>,
  ms = 30_000,
): Promise<Record<string, unknown>> {
  const end = Date.now() + deadline(ms);
  for (;;) {
    const p = await primaryAmong(ports, ms);
    try {
      return await admin(p, cmd);
    } catch (e) {
      const code = (e as { code?: number }).code;
      if (!STATE_CHANGE.has(code ?? 0) || Date.now() > end) throw e;
    }
  }
}

/**
 * Runs `f` in a temporary directory for its servers (`<dir>/<port>/`), and kills them after it,
 * whatever its outcome. A failure carries each server's last log lines: the test's temporary
 * directory goes with it, and a flake seen once is otherwise unexplained.
 */
export async function withDir(f: (dir: string) => Promise<void>): Promise<void> {
  const dir = trackDir(await Deno.makeTempDir({ prefix: "mup-sim-" }));
  try {
    await f(dir);
  } catch (e) {
    if (e instanceof Error) e.message += await logTails(dir);
    throw e;
  } finally {
    await killAll(dir);
  }
}

/** The last lines of each server's log under `dir`, each cut to 400 characters. */
async function logTails(dir: string, lines = 15): Promise<string> {
  let out = "";
  for await (const e of Deno.readDir(dir)) {
    const log = await Deno.readTextFile(path.join(dir, e.name, "log")).catch(() => undefined);
    if (log === undefined) continue;
    const tail = log.trimEnd().split("\n").slice(-lines).map((l) => `    ${l.slice(0, 400)}`);
    out += `\n  last ${tail.length} lines of ${e.name}/log:\n${tail.join("\n")}`;
  }
  return out;
}

/** Starts `ports.length` forked members of set `rs0` and initiates them (member 0 first by priority). */
export async function startReplSet(
  bin: string,
  dir: string,
  ports: number[],
  settings: Record<string, unknown> = {},
  extra: string[] = [],
): Promise<void> {
  for (const p of ports) {
    const r = await startMongod(bin, dir, p, ["--replSet", "rs0", ...extra]);
    if (r.code !== 0) throw new Error(`mongod on ${p} failed: ${r.stdout}${r.stderr}`);
  }
  await admin(ports[0], {
    replSetInitiate: {
      _id: "rs0",
      members: ports.map((p, i) => ({
        _id: i,
        host: `localhost:${p}`,
        ...(i === 0 ? { priority: 2 } : {}),
      })),
      ...(Object.keys(settings).length ? { settings } : {}),
    },
  });
  await waitFor(
    async () => (await admin(ports[0], { hello: 1 })).isWritablePrimary || undefined,
    20_000,
  );
  // Every member through initial sync (a member killed during it starts it again).
  for (const p of ports.slice(1)) {
    await waitFor(async () => (await memberState(p)) === "SECONDARY" || undefined, 30_000);
  }
}

/** A replica-set URI over `ports`. */
export function rsUri(ports: number[], extra = ""): string {
  return `mongodb://${
    ports.map((p) => `localhost:${p}`).join(",")
  }/?replicaSet=rs0&serverSelectionTimeoutMS=20000${extra}`;
}

/** replSetGetStatus of one member, directly. */
export function memberState(port: number): Promise<string> {
  return admin(port, { replSetGetStatus: 1 }).then((s) =>
    String((s.members as { self?: boolean; stateStr: string }[]).find((m) => m.self)?.stateStr)
  );
}

/** SIGKILLs the member on `port` and waits until its process is gone. */
export async function killMember(dir: string, port: number): Promise<void> {
  const pid = pidOf(dir, port);
  Deno.kill(pid, "SIGKILL");
  await waitFor(async () => !(await Deno.stat(`/proc/${pid}`).then(() => true, () => false)));
}

/**
 * Starts a forked mongos on `port` over `configdb` ("set/host:port,…"); its log and pid file lie
 * under `dir` (so withDir stops it).
 */
export function startMongos(
  bin: string,
  dir: string,
  port: number,
  configdb: string,
): Promise<Run> {
  return runBin(path.join(bin, "mongos"), [
    "--configdb",
    configdb,
    "--port",
    String(port),
    "--bind_ip",
    "127.0.0.1",
    "--fork",
    "--logpath",
    path.join(dir, `mongos-${port}.log`),
    "--pidfilepath",
    path.join(dir, `mongos-${port}.pid`),
  ]);
}

/** The real mongosh (npm), run by Deno; `script` prints one EJSON document, returned parsed. */
export async function mongosh(uri: string, script: string): Promise<Document> {
  const out = await new Deno.Command(Deno.execPath(), {
    // Its own lock file: the shell's dependencies stay out of mup's deno.lock and import graph.
    args: [
      "run",
      "-A",
      "--no-config",
      `--lock=${path.join(ROOT, "tests", "mongosh.lock")}`,
      MONGOSH,
      "--quiet",
      uri,
      "--eval",
      script,
    ],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const err = new TextDecoder().decode(out.stderr);
  if (out.code !== 0) throw new Error(`mongosh failed (exit ${out.code}):\n${text}\n${err}`);
  return EJSON.parse(text.trim().split("\n").at(-1)!) as Document;
}

/** mongosh 2.x, the shell DBAs use; the first run downloads it into Deno's npm cache. */
const MONGOSH = "npm:mongosh@2.12.0";

/** SIGTERM to the forked mongod of `dir/<port>`, then waits until its port no longer answers. */
export async function stopMongod(dir: string, port: number): Promise<void> {
  Deno.kill(pidOf(dir, port), "SIGTERM");
  await waitFor(async () =>
    !(await Deno.connect({ hostname: "127.0.0.1", port }).then(
      (s) => (s.close(), true),
      () => false,
    )) || undefined
  );
}

/** Direct clients to `ports` (serverSelectionTimeoutMS 30 s); closed by the caller. */
export function directClients(ports: number[]): Map<number, MongoClient> {
  return new Map(ports.map((p) => [
    p,
    new MongoClient(
      `mongodb://localhost:${p}/?directConnection=true&serverSelectionTimeoutMS=30000`,
    ),
  ]));
}

/** A replica set whose members a test freezes (SIGSTOP) and thaws (SIGCONT). */
export interface FreezableSet {
  ports: number[];
  /** A direct client per member's port. */
  clients: Map<number, MongoClient>;
  /** Freezes the member on `port` with SIGSTOP; its PID. */
  freeze(port: number): number;
  /** Resumes a frozen member (by PID) with SIGCONT. */
  thaw(pid: number): void;
}

/**
 * Runs `f` on a replica set of `n` simulated 7.0.5 members (the first one primary; `settings`
 * the config's, e.g. a longer electionTimeoutMillis) with direct clients; whatever the outcome,
 * every member still frozen is resumed (so that it can be stopped) and the clients are closed,
 * and withDir stops the members.
 */
export async function withFreezableSet(
  n: number,
  f: (set: FreezableSet) => Promise<void>,
  settings: Record<string, unknown> = {},
): Promise<void> {
  await withDir(async (dir) => {
    const ports = freePorts(n);
    await startReplSet(await simBin("7.0.5"), dir, ports, settings);
    const clients = directClients(ports);
    const frozen = new Set<number>();
    try {
      await f({
        ports,
        clients,
        freeze(port) {
          const pid = pidOf(dir, port);
          Deno.kill(pid, "SIGSTOP");
          frozen.add(pid);
          return pid;
        },
        thaw(pid) {
          Deno.kill(pid, "SIGCONT");
          frozen.delete(pid);
        },
      });
    } finally {
      for (const pid of frozen) Deno.kill(pid, "SIGCONT");
      for (const c of clients.values()) await c.close();
    }
  });
}

/** A one-member config replica set and a mongos on it, with no shard; pid files under dir. */
export async function mongosWithoutShards(bin: string, dir: string): Promise<number> {
  const [cfg, mongosPort] = freePorts(2);
  const c = await startMongod(bin, dir, cfg, ["--configsvr", "--replSet", "cfg"]);
  if (c.code !== 0) throw new Error(`config server on ${cfg} failed: ${c.stdout}${c.stderr}`);
  await admin(cfg, {
    replSetInitiate: {
      _id: "cfg",
      configsvr: true,
      members: [{ _id: 0, host: `localhost:${cfg}` }],
    },
  });
  await waitFor(async () => (await admin(cfg, { hello: 1 })).isWritablePrimary || undefined);
  const r = await startMongos(bin, dir, mongosPort, `cfg/localhost:${cfg}`);
  if (r.code !== 0) throw new Error(`mongos on ${mongosPort} failed: ${r.stdout}${r.stderr}`);
  return mongosPort;
}

/** A standalone simulated mongod of 7.0.5, and a driver client on it; both closed after `f`. */
export async function withMongod(f: (c: MongoClient) => Promise<void>): Promise<void> {
  await withDir(async (dir) => {
    const [port] = freePorts(1);
    const started = await startMongod(await simBin("7.0.5"), dir, port);
    if (started.code !== 0) throw new Error(`mongod did not start:\n${output(started)}`);
    const c = new MongoClient(`mongodb://localhost:${port}/?directConnection=true`);
    try {
      await f(c);
    } finally {
      await c.close();
    }
  });
}

/** `cmd` on `db` is refused with `code` (and, given, exactly `message`). */
export async function refusedWith(
  db: Db,
  cmd: Document,
  code: number,
  message?: string,
): Promise<void> {
  const e = await db.command(cmd).then(() => undefined, (e) => e);
  assert.ok(e instanceof MongoServerError, `${JSON.stringify(cmd)}: expected ${code}, got ${e}`);
  assert.equal(e.code, code, `${JSON.stringify(cmd)}: ${e.message}`);
  if (message !== undefined) assert.equal(e.message, message);
}
