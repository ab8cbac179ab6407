/** Helpers of the lifecycle tests: deploy through the CLI, a writing client, what is left. */
import assert from "node:assert/strict";
import * as path from "node:path";
import { MongoClient, type MongoClientOptions } from "mongodb";
import {
  deployArgs,
  freePorts,
  mup,
  type MupResult,
  output,
  portFree,
  spawnMup,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { Journal } from "../lib/state/journal.ts";
import { clusterDir } from "./apply_helpers.ts";
import { pidAlive } from "../lib/executor/local.ts";
import { deadline } from "./fixture.ts";

/** Runs mup and fails the test, with everything it printed, unless it exits with `code`. */
export async function ok(home: string, args: string[], code = 0): Promise<MupResult> {
  const r = await mup(args, { home });
  assert.equal(r.code, code, `mup ${args.join(" ")}:\n${r.stdout}\n${r.stderr}`);
  return r;
}

export async function deploy(home: string, name: string, topology: string): Promise<void> {
  const file = await writeTopology(home, `${name}.yaml`, topology);
  await ok(home, deployArgs(name, file, await testMirror(), ["--auto-approve"]));
}

export interface Display {
  healthy: boolean;
  security?: { auth: boolean; tls: boolean };
  processes: {
    id: string;
    role: string;
    replica_set?: string;
    state: string;
    reason?: string;
    pid?: number;
    data_dir?: string;
    healthy: boolean;
  }[];
  connection_string: string;
}

export async function display(home: string, name: string, code = 0): Promise<Display> {
  return JSON.parse((await ok(home, ["cluster", "display", name, "--json"], code)).stdout);
}

/**
 * `cluster display --json` whatever its exit code says of the cluster (1 when degraded or while
 * an apply is unfinished): for a test that reads a process, not the cluster's health.
 */
export async function displayAnyway(home: string, name: string): Promise<Display> {
  const r = await mup(["cluster", "display", name, "--json"], { home });
  try {
    return JSON.parse(r.stdout);
  } catch {
    throw new Error(`mup cluster display ${name} --json: ${output(r)}`);
  }
}

/** The PID in the pid file of cluster `cluster`'s `bin` on port `port` (its deploy directory). */
export async function memberPid(
  home: string,
  cluster: string,
  port: number,
  bin: "mongod" | "mongos" = "mongod",
): Promise<number> {
  const file = path.join(clusterDir(home, cluster), "deploy", `${bin}-${port}`, `${bin}.pid`);
  return Number((await Deno.readTextFile(file)).trim());
}

/**
 * Kills (SIGKILL) the mongod (or the mongos, `bin`) that runs as `cluster`'s process on `port` (its pid file under the
 * default deploy directory) and waits until it is gone and its port can be bound again (a
 * killed process's leader shows as a zombie while its other threads still close its sockets).
 * Returns its PID.
 */
export async function killMember(
  home: string,
  cluster: string,
  port: number,
  bin: "mongod" | "mongos" = "mongod",
): Promise<number> {
  const pid = await memberPid(home, cluster, port, bin);
  Deno.kill(pid, "SIGKILL");
  for (const end = Date.now() + deadline(30_000); pidAlive(pid) || !portFree(port);) {
    if (Date.now() > end) throw new Error(`mongod ${pid} (port ${port}) is not gone after SIGKILL`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return pid;
}

/** PIDs in the pid files under the cluster's directory that are still alive. */
export async function livePids(home: string, name: string): Promise<number[]> {
  const out: number[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await Array.fromAsync(Deno.readDir(d)).catch(() => [] as Deno.DirEntry[])) {
      const p = path.join(d, e.name);
      if (e.isDirectory) await walk(p);
      else if (e.name.endsWith(".pid")) {
        const pid = Number((await Deno.readTextFile(p)).trim());
        // A zombie (exited, not yet reaped by a PID 1 that never reaps) is not a process left.
        if (pid > 0 && pidAlive(pid)) {
          out.push(pid);
        }
      }
    }
  };
  await walk(clusterDir(home, name));
  return out;
}

/** Ports for servers that restart: tests/helpers.ts freePorts (below the ephemeral range). */
export const stablePorts = freePorts;

export { portFree };

/**
 * A client that inserts in a loop with w:"majority" and retryable writes until stopped; it
 * records every acknowledged _id and the longest time between two acknowledged writes.
 */
export class WriteLoad {
  readonly acked: number[] = [];
  /** Wall-clock time (ms since the epoch) of each acknowledged write. */
  readonly ackedAt: number[] = [];
  failures = 0;
  longestGapMs = 0;
  /** With `trace`: each insert command sent, answered or failed, per member (for a diagnosis). */
  readonly trace: string[] = [];
  private stopped = false;
  private done: Promise<void>;
  private client: MongoClient;

  constructor(
    uri: string,
    readonly coll = "load",
    auth: MongoClientOptions = {},
    trace = false,
  ) {
    this.client = new MongoClient(uri, {
      ...auth,
      retryWrites: true,
      serverSelectionTimeoutMS: 30_000,
      writeConcern: { w: "majority", wtimeoutMS: 30_000 },
      monitorCommands: trace,
    });
    if (trace) this.traceInserts();
    this.done = this.loop();
  }

  private traceInserts(): void {
    const ids = new Map<number, unknown>();
    this.client.on("commandStarted", (e) => {
      if (e.commandName !== "insert") return;
      ids.set(e.requestId, e.command.documents?.[0]?._id);
      this.trace.push(`${Date.now()} sent ${ids.get(e.requestId)} to ${e.address}`);
    });
    this.client.on("commandSucceeded", (e) => {
      if (!ids.has(e.requestId)) return;
      this.trace.push(
        `${Date.now()} reply ${ids.get(e.requestId)} from ${e.address}: ${JSON.stringify(e.reply)}`,
      );
    });
    this.client.on("commandFailed", (e) => {
      if (!ids.has(e.requestId)) return;
      this.trace.push(`${Date.now()} failed ${ids.get(e.requestId)} at ${e.address}: ${e.failure}`);
    });
  }

  private async loop(): Promise<void> {
    const c = this.client.db("lifecycle").collection<{ _id: number; at: number }>(this.coll);
    let last = performance.now();
    for (let i = 1; !this.stopped; i++) {
      try {
        await c.insertOne({ _id: i, at: Date.now() });
        const now = performance.now();
        this.longestGapMs = Math.max(this.longestGapMs, now - last);
        last = now;
        this.acked.push(i);
        this.ackedAt.push(Date.now());
      } catch {
        this.failures++;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }

  /** Stops the loop; the client stays open for checks until close(). */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }

  /**
   * _ids acknowledged but not found (read with majority read concern), asked again for a while:
   * a primary elected a moment ago serves majority reads from its commit point, which reaches
   * the last writes the previous primary acknowledged only once it commits in its own term
   * (MongoDB behaves so too). A write really lost is still missing when the time is up.
   */
  async missing(): Promise<number[]> {
    const c = this.client.db("lifecycle").collection<{ _id: number }>(this.coll);
    const end = Date.now() + deadline(10_000);
    for (;;) {
      const have = new Set(
        (await c.find({}, { readConcern: { level: "majority" }, projection: { _id: 1 } })
          .toArray()).map((d) => d._id),
      );
      const lost = this.acked.filter((id) => !have.has(id));
      if (!lost.length || Date.now() > end) return lost;
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async close(): Promise<void> {
    await this.client.close().catch(() => {});
  }
}

/**
 * Whether an operation's own work began: recorded running with at least one execution (past
 * its before_operation hooks, isDone and safety checks, which are recorded running too).
 */
export function opExecuting(st: { status: string; executions?: number } | undefined): boolean {
  return st?.status === "running" && (st.executions ?? 0) > 0;
}

/**
 * Starts mup, kills it with `signal` (SIGKILL) once an operation matching `when` is recorded as
 * `status` (and, if given, `also` holds): "running" from its start (its hook, isDone and safety
 * checks included), "executing" once its own work began. Returns what mup printed and its exit
 * code.
 */
export async function killWhen(
  home: string,
  cluster: string,
  args: string[],
  when: RegExp,
  status: "running" | "executing" | "completed",
  env: Record<string, string> = {},
  also: () => Promise<boolean> = () => Promise.resolve(true),
  waitMs = 120_000,
  signal: Deno.Signal = "SIGKILL",
): Promise<MupResult> {
  const stateDir = path.join(clusterDir(home, cluster), "state");
  const before = new Set(
    (await Array.fromAsync(Deno.readDir(stateDir)).catch(() => [] as Deno.DirEntry[])).map((e) =>
      e.name
    ),
  );
  const child = spawnMup(args, home, env);
  // Read as it comes, so that a mup that ended before the moment can say why.
  const out = child.output();
  let ended = false;
  child.status.then(() => ended = true);
  const t0 = Date.now();
  let killed = false;
  while (!killed && !ended && Date.now() - t0 < waitMs) {
    for (const e of await Array.fromAsync(Deno.readDir(stateDir)).catch(() => [])) {
      if (!e.name.endsWith(".journal") || before.has(e.name)) continue;
      const lines = await Journal.read(path.join(stateDir, e.name)) as {
        kind: string;
        state?: { id: string; status: string; executions?: number };
      }[];
      // The newest record of each operation says where it is now: "executing" once its run
      // began (past its hook, isDone and safety checks).
      const now = new Map<string, string>();
      for (const l of lines) {
        if (l.kind !== "op") continue;
        const st = l.state!;
        now.set(st.id, opExecuting(st) ? "executing" : st.status);
      }
      const at = (st: string) => st === status || (status === "running" && st === "executing");
      if ([...now].some(([id, st]) => when.test(id) && at(st)) && await also()) {
        child.kill(signal);
        killed = true;
      }
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const late = !killed && !ended;
  if (late) child.kill("SIGKILL");
  const r = await out;
  const dec = new TextDecoder();
  assert.ok(
    killed,
    `mup ${late ? "was still running" : `ended (exit ${r.code})`} before ${when} was ${status}` +
      (!late ? `:\n${dec.decode(r.stdout).slice(-3000)}${dec.decode(r.stderr).slice(-2000)}` : ""),
  );
  return { code: r.code, stdout: dec.decode(r.stdout), stderr: dec.decode(r.stderr) };
}

/**
 * A `cluster restart <cluster> --plan-only` saved for later: its plan ID, and its stops in the
 * plan's order (operation ID and port), the secondaries first.
 */
export async function savedRestart(
  home: string,
  cluster: string,
): Promise<{ planId: string; stops: { id: string; port: number }[] }> {
  const planId = JSON.parse(
    (await ok(home, ["cluster", "restart", cluster, "--plan-only", "--json"])).stdout,
  ).plan_id as string;
  const shown = JSON.parse((await ok(home, ["plan", "show", planId, "--json"])).stdout);
  const stops = (shown.phases as {
    operations: { id: string; type: string; target: { port: number } }[];
  }[]).flatMap((ph) => ph.operations).filter((o) => o.type === "stop_process")
    .map((o) => ({ id: o.id, port: o.target.port }));
  return { planId, stops };
}

/** The mongod binary the deploy installed under `deployDir` (bin/<variant>-<version>/bin). */
export async function installedMongod(deployDir: string): Promise<string> {
  for await (const e of Deno.readDir(path.join(deployDir, "bin"))) {
    if (e.isDirectory) return path.join(deployDir, "bin", e.name, "bin", "mongod");
  }
  throw new Error(`no release installed under ${deployDir}/bin`);
}
