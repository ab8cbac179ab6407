/**
 * The test fixture: records what a test starts (child pids, temp dirs, pid files written under
 * those dirs by the simulator and by mup, extra cleanups) and tears it all down after each test,
 * whatever its outcome: processes are killed by pid (their process group, and their
 * descendants), then the dirs are removed. A test file calls `installFixture()` once at its top;
 * the helpers (tests/helpers.ts `tempHome`, `mup`, `spawnMup`, sim_helpers `withDir`, the sshd
 * fixture) record into it, so a test needs no bookkeeping of its own.
 *
 * Deno runs the tests of one file one after the other, so "what the current test started" is
 * simply what was recorded since the last teardown.
 */
import * as path from "node:path";
import { alive } from "../scripts/_pids.ts";

interface Tracked {
  pids: Map<number, { label: string; exited: boolean }>;
  dirs: Set<string>;
  files: Set<string>;
  cleanups: (() => unknown)[];
}

const current: Tracked = { pids: new Map(), dirs: new Set(), files: new Set(), cleanups: [] };
/** Things that outlive a test (the download mirror): removed after the file's last test. */
const perFile: Tracked = { pids: new Map(), dirs: new Set(), files: new Set(), cleanups: [] };

/**
 * A wait's deadline: `ms` (what a quiet machine needs, with room) times MUP_TEST_SLOWDOWN
 * (default 3). Deadlines only matter when a test fails, so a loaded machine must not hit them;
 * waits themselves end on readiness, not on the deadline.
 */
export function deadline(ms: number): number {
  const f = Number(Deno.env.get("MUP_TEST_SLOWDOWN") ?? 3);
  return Math.round(ms * (Number.isFinite(f) && f > 0 ? f : 3));
}

/** Registers the teardown hooks in the calling test file (hooks belong to the file that adds them). */
export function installFixture(): void {
  Deno.test.afterEach(async () => {
    await teardown(current);
  });
  Deno.test.afterAll(async () => {
    await teardown(current);
    await teardown(perFile);
  });
}

/** Records a child process: killed (with its group and descendants) at teardown if still alive. */
export function trackChild<T extends Deno.ChildProcess>(child: T, label = "child"): T {
  const entry = { label, exited: false };
  current.pids.set(child.pid, entry);
  // Once reaped its pid may be reused by an unrelated process: never signal it after that.
  child.status.then(() => entry.exited = true, () => entry.exited = true);
  return child;
}

/**
 * Records a directory: at teardown every process whose pid file lies under it, or whose command
 * line names it, is killed, then the directory is removed. `perFileLifetime` keeps it until the
 * test file ends (shared, read-only things such as the download mirror).
 */
export function trackDir(dir: string, perFileLifetime = false): string {
  (perFileLifetime ? perFile : current).dirs.add(dir);
  return dir;
}

/** Records a temp file, removed at teardown. */
export function trackFile(file: string): string {
  current.files.add(file);
  return file;
}

/** Runs `f` at teardown (before processes are killed), e.g. stopping a tmux server. */
export function defer(f: () => unknown): void {
  current.cleanups.push(f);
}

/** A recorded temp dir (under $TMPDIR, /tmp by default). */
export async function tempDir(prefix = "mup-test-"): Promise<string> {
  return trackDir(await Deno.makeTempDir({ prefix }));
}

/** A recorded temp file. */
export async function tempFile(options: Deno.MakeTempOptions = {}): Promise<string> {
  return trackFile(await Deno.makeTempFile({ prefix: "mup-test-", ...options }));
}

interface ProcInfo {
  pid: number;
  ppid: number;
  pgid: number;
  zombie: boolean;
  cmdline: string;
  /** When the process started (epoch ms, to a clock tick). */
  startMs: number;
}

/**
 * Boot time (epoch ms, to 10 ms: /proc/stat's btime is whole seconds): /proc/<pid>/stat gives
 * start times in clock ticks since boot.
 */
const BOOT_MS = Date.now() -
  Number(Deno.readTextFileSync("/proc/uptime").split(" ")[0]) * 1000;
const TICK_MS = 10; // USER_HZ is 100 on Linux

function processes(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    const pid = Number(e.name);
    if (!pid || pid === Deno.pid) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const cmdline = Deno.readTextFileSync(`/proc/${pid}/cmdline`).replaceAll("\0", " ");
      out.push({
        pid,
        ppid: Number(f[1]),
        pgid: Number(f[2]),
        zombie: f[0] === "Z",
        cmdline,
        startMs: BOOT_MS + Number(f[19]) * TICK_MS,
      });
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return out;
}

/** The pids recorded in pid files under `dir`, with when each file was last written (epoch ms). */
async function pidFilesUnder(dir: string): Promise<{ pid: number; writtenMs: number }[]> {
  const out: { pid: number; writtenMs: number }[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await Array.fromAsync(Deno.readDir(d)).catch(() => [] as Deno.DirEntry[])) {
      const p = path.join(d, e.name);
      if (e.isDirectory) await walk(p);
      else if (e.name.endsWith(".pid")) {
        const pid = Number((await Deno.readTextFile(p).catch(() => "")).trim());
        const writtenMs = (await Deno.stat(p).catch(() => undefined))?.mtime?.getTime();
        if (pid > 0 && writtenMs !== undefined) out.push({ pid, writtenMs });
      }
    }
  };
  await walk(dir);
  return out;
}

/** This checkout's simulator entry point (other checkouts' simulators are not ours). */
const SIM_MAIN = path.resolve(import.meta.dirname!, "..", "sim", "main.ts");

/**
 * Whether the process a pid file names is still the one it recorded (a pid may be reused by
 * someone else's process): it names one of our dirs, or it is this checkout's simulator.
 */
function looksOurs(p: ProcInfo, dirs: string[]): boolean {
  return dirs.some((d) => p.cmdline.includes(d)) || p.cmdline.includes(SIM_MAIN);
}

function kill(pid: number): void {
  try {
    Deno.kill(pid, "SIGKILL");
  } catch {
    // Already gone.
  }
}

/** Kills and removes everything `t` recorded; returns the pids it signalled. */
async function teardown(t: Tracked): Promise<number[]> {
  for (const f of t.cleanups.splice(0).reverse()) {
    try {
      await f();
    } catch {
      // A cleanup that fails must not keep the others (and the kills) from running.
    }
  }
  const dirs = [...t.dirs];
  const procs = processes();
  const byPid = new Map(procs.map((p) => [p.pid, p]));
  const roots = new Set<number>();
  for (const [pid, e] of t.pids) if (!e.exited && byPid.has(pid)) roots.add(pid);
  for (const d of dirs) {
    for (const { pid, writtenMs } of await pidFilesUnder(d)) {
      const p = byPid.get(pid);
      // A stale pid file may name a pid now reused by another process (pids wrap at 32768 on a
      // busy machine; most processes here are simulators, another test's among them): the one
      // that wrote the file started before it was written, a reuser after.
      if (p && looksOurs(p, dirs) && p.startMs <= writtenMs + 100) roots.add(pid);
    }
  }
  // Anything still naming one of our dirs (a server killed before it wrote its pid file, sshd).
  for (const p of procs) if (dirs.some((d) => p.cmdline.includes(d))) roots.add(p.pid);
  // Their process groups (servers mup starts lead groups of their own) and descendants.
  const victims = new Set<number>();
  const children = new Map<number, number[]>();
  for (const p of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid]);
  const add = (pid: number) => {
    if (victims.has(pid)) return;
    victims.add(pid);
    for (const c of children.get(pid) ?? []) add(c);
  };
  for (const r of roots) {
    add(r);
    for (const p of procs) if (p.pgid === r) add(p.pid);
  }
  const signalled = [...victims].filter((pid) => !byPid.get(pid)?.zombie);
  for (const pid of signalled) kill(pid);
  // Wait (bounded) until they are gone, so that none writes into a dir being removed.
  const end = Date.now() + 10_000;
  while (signalled.some(alive) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  for (const d of dirs) await Deno.remove(d, { recursive: true }).catch(() => {});
  for (const f of t.files) await Deno.remove(f).catch(() => {});
  t.pids.clear();
  t.dirs.clear();
  t.files.clear();
  return signalled;
}
