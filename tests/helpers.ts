/** Shared test helpers: real processes, real ports, a real mirror; everything cleaned up. */
import * as path from "node:path";
import type { Plan } from "../lib/plan/schema.ts";
import { buildMirror } from "../sim/mirror.ts";
import { signalPidFiles } from "../scripts/_pids.ts";
import { mupRunArgs } from "../scripts/_mup_cmd.ts";
import { trackChild, trackDir } from "./fixture.ts";
import { SAME_PRESS_MS } from "../lib/cli/prompt.ts";
import { pidAlive } from "../lib/executor/local.ts";

export { installFixture } from "./fixture.ts";

export const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");

let mirrorPromise: Promise<string> | undefined;

/**
 * A download mirror built once per test file (the fixture removes it after the file's last
 * test; a later file in the same process builds it again).
 */
export async function testMirror(): Promise<string> {
  if (mirrorPromise) {
    const dir = await mirrorPromise.catch(() => "");
    if (dir && await Deno.stat(dir).then(() => true, () => false)) return dir;
  }
  mirrorPromise = (async () => {
    const dir = trackDir(await Deno.makeTempDir({ prefix: "mup-mirror-" }), true);
    return await buildMirror(dir, { versions: ["6.0.19", "7.0.5", "7.0.14", "8.0.4"] });
  })();
  return await mirrorPromise;
}

export interface MupResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * A process's exit code and the tail of its stdout AND stderr, for assertion messages (the
 * reason a command failed sometimes goes to stdout). Takes a MupResult-like value, or a
 * Deno.CommandOutput (bytes); what it lacks is left out.
 */
export function output(r: unknown, tailChars = 4000): string {
  const o = (r ?? {}) as { code?: number; stdout?: unknown; stderr?: unknown };
  const text = (v: unknown) =>
    v instanceof Uint8Array ? new TextDecoder().decode(v) : typeof v === "string" ? v : undefined;
  const tail = (v: string) => v.length > tailChars ? `…${v.slice(-tailChars)}` : v;
  if (o.stdout === undefined && o.stderr === undefined) {
    return JSON.stringify(r)?.slice(0, tailChars);
  }
  const parts = [`exit code ${o.code ?? "?"}`];
  for (const k of ["stdout", "stderr"] as const) {
    const t = text(o[k]);
    if (t !== undefined) {
      parts.push(`--- ${k}${t.length > tailChars ? " (tail)" : ""}:\n${tail(t)}`);
    }
  }
  return parts.join("\n");
}

/** Runs the mup CLI as a subprocess, as a user would. */
export async function mup(
  args: string[],
  options: { home: string; env?: Record<string, string>; stdin?: string; cwd?: string } = {
    home: "",
  },
): Promise<MupResult> {
  const child = new Deno.Command(Deno.execPath(), {
    args: mupRunArgs(args),
    env: { MUP_HOME: options.home, NO_COLOR: "1", ...options.env },
    cwd: options.cwd ?? ROOT,
    stdin: options.stdin !== undefined ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  trackChild(child, `mup ${args.join(" ")}`);
  if (options.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(options.stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/**
 * Something done by the test while an apply runs, just before operation `opId`. `hooks` goes
 * at the end of the topology: a before_operation hook that, for `opId` alone, says it has come
 * and waits for the test, the first `rounds` times (an apply, then a resume). `at(act)` waits
 * for it, runs `act`, then lets the hook end, and returns what `act` returned; given the mup
 * `running`, it fails with mup's output if mup ends first.
 */
export function pausedBefore(home: string, opId: string, rounds = 1, armed = true): {
  hooks: string;
  at<T>(act: () => T | Promise<T>, running?: Promise<MupResult>): Promise<T>;
  /** With `armed` false, the hook waits only from this call on (an ID earlier applies share). */
  arm(): Promise<void>;
} {
  const tag = opId.replace(/[^A-Za-z0-9-]/g, "_");
  const go = path.join(home, `hook-go-${tag}`);
  const held = path.join(home, `hook-held-${tag}`);
  const done = path.join(home, `hook-done-${tag}`);
  const on = path.join(home, `hook-armed-${tag}`);
  let taken = 0;
  return {
    hooks: `hooks:
  before_operation:
    command: >-
      [ "$MUP_OPERATION_ID" = "${opId}" ] || exit 0; [ -e '${done}' ] && exit 0;
      ${armed ? "" : `[ -e '${on}' ] || exit 0; `}touch '${go}';
      while [ ! -e '${held}' ]; do sleep 0.05; done; rm -f '${held}'
    timeout: 10m
`,
    arm: () => Deno.writeTextFile(on, ""),
    async at(act, running) {
      let ended: string | undefined;
      running?.then((r) => ended = output(r), (e) => ended = String(e));
      for (
        const end = Date.now() + 300_000;
        !(await Deno.lstat(go).then(() => true, () => false));
      ) {
        if (Date.now() > end) throw new Error(`the apply never came to ${opId}`);
        if (ended !== undefined) throw new Error(`the apply ended before ${opId}:\n${ended}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      await Deno.remove(go);
      const result = await act();
      // After the last round the hook no longer waits (a later resume runs through).
      if (++taken >= rounds) await Deno.writeTextFile(done, "");
      await Deno.writeTextFile(held, "");
      return result;
    },
  };
}

/**
 * A port taken while an apply runs, just before operation `opId` (its safety check then finds
 * it held; one taken before the apply is refused before anything starts): `pausedBefore`,
 * whose `take()` listens on 127.0.0.1:`port`; the caller closes the listener.
 */
export function portTakenBefore(home: string, opId: string, port: number, rounds = 1): {
  hooks: string;
  take(): Promise<Deno.TcpListener>;
} {
  const paused = pausedBefore(home, opId, rounds);
  return {
    hooks: paused.hooks,
    take: () => paused.at(() => Deno.listen({ hostname: "127.0.0.1", port })),
  };
}

/** Starts mup without waiting, for tests that kill it mid-way (or answer it: stdin "piped"). */
export function spawnMup(
  args: string[],
  home: string,
  env: Record<string, string> = {},
  stdin: "null" | "piped" = "null",
): Deno.ChildProcess {
  return trackChild(
    new Deno.Command(Deno.execPath(), {
      args: mupRunArgs(args),
      env: { MUP_HOME: home, NO_COLOR: "1", ...env },
      cwd: ROOT,
      stdin,
      stdout: "piped",
      stderr: "piped",
    }).spawn(),
    `mup ${args.join(" ")}`,
  );
}

/** What a spawnMup child ends with, as mup() returns it (its output decoded). */
export async function resultOf(child: Deno.ChildProcess): Promise<MupResult> {
  const o = await child.output();
  const text = new TextDecoder();
  return { code: o.code, stdout: text.decode(o.stdout), stderr: text.decode(o.stderr) };
}

/**
 * Where test processes running side by side claim the ports they hand out: machine-wide, not in
 * the run's own TMPDIR, so that files of one run (`--parallel`) and suites run side by side (a
 * soak of `repeat-tests` beside a developer's run, two checkouts) never get the same port.
 */
const PORT_CLAIMS = `/tmp/mup-test-ports-${Deno.uid() ?? "user"}`;
/** A claim older than this belongs to a finished run and may be taken again. */
const CLAIM_TTL_MS = 30 * 60_000;

/** Whether nothing listens on 127.0.0.1:`port` right now. */
export function portFree(port: number): boolean {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
    return true;
  } catch {
    return false;
  }
}

/**
 * Claims `port` for this process (one file per port, created exclusively, holding the claimer's
 * PID); false if taken. A claim of a process that has ended (an earlier run), or older than
 * CLAIM_TTL_MS, is taken over.
 */
function claimPort(port: number): boolean {
  const file = path.join(PORT_CLAIMS, String(port));
  try {
    Deno.writeTextFileSync(file, String(Deno.pid), { createNew: true });
    return true;
  } catch {
    try {
      const age = Date.now() - (Deno.statSync(file).mtime?.getTime() ?? 0);
      const holder = Number(Deno.readTextFileSync(file).trim());
      if (age < CLAIM_TTL_MS && holder > 0 && pidAlive(holder)) return false;
      Deno.writeTextFileSync(file, String(Deno.pid));
      return true;
    } catch {
      return false; // another process is taking it over right now
    }
  }
}

/**
 * Distinct ports free right now, below Linux's ephemeral range (32768 and up): a port picked by
 * binding port 0 lies inside it, and an outgoing connection (a heartbeat, a driver) may take
 * the same number as its local port before the test's server binds it (or while it restarts),
 * as with a real mongod. Each port is claimed in a shared folder, so test files running side by
 * side never get the same one. Servers live on such fixed ports (27017…) in real deployments.
 * Below 27000: from 27017 up is where mup gives `port: 0` its ports (lib/preflight/ports.ts), and
 * a test's claimed port not yet bound would look free to it.
 */
export function freePorts(n: number): number[] {
  Deno.mkdirSync(PORT_CLAIMS, { recursive: true });
  const out: number[] = [];
  while (out.length < n) {
    const p = 20_000 + Math.floor(Math.random() * 7_000);
    if (!out.includes(p) && portFree(p) && claimPort(p)) out.push(p);
  }
  return out;
}

/** A temp MUP_HOME, removed (and what was deployed under it killed) after the test. */
export async function tempHome(): Promise<string> {
  return trackDir(await Deno.makeTempDir({ prefix: "mup-home-" }));
}

/** Kills every process whose pid file lies under `dir` (what a test deployed). */
export async function killAll(dir: string): Promise<void> {
  await signalPidFiles(dir, "SIGKILL");
}

export async function writeTopology(dir: string, name: string, text: string): Promise<string> {
  const file = path.join(dir, name);
  await Deno.writeTextFile(file, text);
  return file;
}

export function shardedTopology(p: number[], extra = ""): string {
  return `config_servers:
  - { host: localhost, port: ${p[0]}, replica_set: cfg }
  - { host: localhost, port: ${p[1]}, replica_set: cfg }
  - { host: localhost, port: ${p[2]}, replica_set: cfg }
mongod_servers:
  - { host: localhost, port: ${p[3]}, replica_set: shard1 }
  - { host: localhost, port: ${p[4]}, replica_set: shard1 }
  - { host: localhost, port: ${p[5]}, replica_set: shard1 }
  - { host: localhost, port: ${p[6]}, replica_set: shard2 }
  - { host: localhost, port: ${p[7]}, replica_set: shard2 }
  - { host: localhost, port: ${p[8]}, replica_set: shard2 }
mongos_servers:
  - { host: localhost, port: ${p[9]} }
${extra}`;
}

/**
 * The smallest sharded cluster: a one-member config server set, two one-member shards and one
 * mongos (ports: config, shard1, shard2, mongos). It has every phase and operation type of a
 * sharded deploy in 4 processes instead of 10, for tests about the plan and apply machinery
 * (resume, locks, terminals) rather than about replication inside a set.
 */
export function smallShardedTopology(p: number[], extra = ""): string {
  return `config_servers:
  - { host: localhost, port: ${p[0]}, replica_set: cfg }
mongod_servers:
  - { host: localhost, port: ${p[1]}, replica_set: shard1 }
  - { host: localhost, port: ${p[2]}, replica_set: shard2 }
mongos_servers:
  - { host: localhost, port: ${p[3]} }
${extra}`;
}

export function replicaSetTopology(p: number[], extra = ""): string {
  return `mongod_servers:
  - { host: localhost, port: ${p[0]}, replica_set: rs0, priority: 2 }
  - { host: localhost, port: ${p[1]}, replica_set: rs0 }
  - { host: localhost, port: ${p[2]}, replica_set: rs0 }
${extra}`;
}

export function standaloneTopology(p: number[], extra = ""): string {
  return `mongod_servers:\n  - host: localhost\n    port: ${p[0]}\n${extra}`;
}

/** argv of `mup cluster deploy <cluster> <topology> --version <version> --mirror <mirror> …extra`. */
export function deployArgs(
  cluster: string,
  topology: string,
  mirror: string,
  extra: string[] = [],
  version = "7.0",
): string[] {
  return [
    "cluster",
    "deploy",
    cluster,
    topology,
    "--version",
    version,
    "--mirror",
    mirror,
    ...extra,
  ];
}

/** Plans a sharded cluster (`topology` of `ports`; --plan-only --json) and returns mup's JSON answer. */
export async function planSharded(
  home: string,
  ports: number[],
  cluster = "c1",
  topology: (ports: number[]) => string = shardedTopology,
): Promise<{ plan_id: string; path: string; plan: Plan }> {
  const topo = await writeTopology(home, `${cluster}.yaml`, topology(ports));
  const r = await mup(deployArgs(cluster, topo, await testMirror(), ["--plan-only", "--json"]), {
    home,
  });
  if (r.code !== 0) throw new Error(`planning failed: ${output(r)}`);
  return JSON.parse(r.stdout);
}

/** A deployed cluster's admin credentials as `mup cluster credentials --json` prints them. */
export interface ClusterCredentials {
  user: string;
  password: string;
  connection_string: string;
}

/**
 * The admin credentials of a cluster mup deployed (with access control, the default), read the
 * way a user reads them: `mup cluster credentials <cluster> --json`. Test clients authenticate
 * with them through apply_helpers.ts withClient and lifecycle_helpers.ts WriteLoad.
 */
export async function clusterCredentials(
  home: string,
  cluster: string,
): Promise<ClusterCredentials> {
  const r = await mup(["cluster", "credentials", cluster, "--json"], { home });
  if (r.code !== 0) throw new Error(`mup cluster credentials ${cluster}: ${r.stdout}${r.stderr}`);
  return JSON.parse(r.stdout);
}

export async function readJson<T = Record<string, unknown>>(file: string): Promise<T> {
  return JSON.parse(await Deno.readTextFile(file));
}

/**
 * Two Ctrl-Cs to a mup started with spawnMup (stderr piped): the second only once mup said it
 * took the first ("Interrupted" on stderr), and after SAME_PRESS_MS, since signals closer
 * together count as one press (see interruptHandler). Returns what stderr said until then, and
 * the rest of stderr, to cancel once mup has ended (not before: mup still writes to it).
 */
export async function pressCtrlCTwice(
  child: Deno.ChildProcess,
): Promise<{ err: string; stderr: ReadableStreamDefaultReader<string> }> {
  child.kill("SIGINT");
  const stderr = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let err = "";
  while (!err.includes("Interrupted")) {
    const { value, done } = await stderr.read();
    if (done) break;
    err += value;
  }
  await new Promise((r) => setTimeout(r, SAME_PRESS_MS + 100));
  child.kill("SIGINT");
  return { err, stderr };
}
