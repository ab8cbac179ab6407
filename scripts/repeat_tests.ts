/**
 * Repeats the test suite (`deno task test`) and prints figures, asserting nothing:
 *
 *   deno task repeat-tests [--runs N] [--burners K] [--jobs J] [--until HH:MM] [--out DIR]
 *                          [-- deno test args]
 *
 * Each run gets a TMPDIR of its own (under /tmp) so that what the suite leaves behind is its
 * own; K CPU burners (`yes > /dev/null`) run during the runs and are stopped at the end. Per
 * run it prints passed/failed counts and the duration, then what was left: entries in the
 * run's TMPDIR, new entries in /tmp, and live processes of this checkout's simulator or naming
 * the run's TMPDIR (reported, then killed by pid so the next run starts clean). At the end, per
 * test, its failures across runs. Each run's console output and JUnit report stay in --out.
 * --until (UTC; a time already past today means tomorrow's) starts no run that, taking as long
 * as the previous one, would end after it.
 */
import * as path from "node:path";
import { liveProcesses, type RunProcess } from "./_pids.ts";

const ROOT = path.resolve(import.meta.dirname!, "..");

interface Options {
  runs: number;
  burners: number;
  jobs?: number;
  /** UTC wall-clock limit, ms since the epoch. */
  until?: number;
  out: string;
  extra: string[];
}

function parseArgs(argv: string[]): Options {
  const o: Options = { runs: 1, burners: 0, out: "", extra: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = (name: string) => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 0) {
        console.error(`${name} takes a whole number, got ${argv[i]}`);
        Deno.exit(2);
      }
      return v;
    };
    if (a === "--runs") o.runs = num(a);
    else if (a === "--burners") o.burners = num(a);
    else if (a === "--jobs") o.jobs = num(a);
    else if (a === "--out") o.out = argv[++i];
    else if (a === "--until") {
      const m = /^(\d{1,2}):(\d{2})$/.exec(argv[++i] ?? "");
      if (!m) {
        console.error(`--until takes HH:MM (UTC), got ${argv[i]}`);
        Deno.exit(2);
      }
      const d = new Date();
      d.setUTCHours(Number(m[1]), Number(m[2]), 0, 0);
      // A time already past today is tomorrow's (started at 22:00, --until 01:00).
      if (d.getTime() <= Date.now()) d.setUTCDate(d.getUTCDate() + 1);
      o.until = d.getTime();
    } else if (a === "--") o.extra = argv.slice(i + 1), i = argv.length;
    else if (a === "--help" || a === "-h") {
      console.log(
        "usage: deno task repeat-tests [--runs N] [--burners K] [--jobs J] [--until HH:MM] [--out DIR] [-- deno test args]",
      );
      Deno.exit(0);
    } else {
      console.error(`unknown argument ${a} (see --help)`);
      Deno.exit(2);
    }
  }
  return o;
}

interface TestCase {
  file: string;
  name: string;
  seconds: number;
  failed: boolean;
  /** Filtered out or ignored (`<skipped/>`): neither passed nor failed. */
  skipped: boolean;
}

function unescapeXml(s: string): string {
  return s.replaceAll("&quot;", '"').replaceAll("&apos;", "'").replaceAll("&lt;", "<")
    .replaceAll("&gt;", ">").replaceAll("&amp;", "&");
}

/** Test cases of a Deno JUnit report. */
export function parseJunit(xml: string): TestCase[] {
  const out: TestCase[] = [];
  const re = /<testcase\s([^>]*?)(\/>|>([\s\S]*?)<\/testcase>)/g;
  for (const m of xml.matchAll(re)) {
    const attr = (k: string) => unescapeXml(new RegExp(`${k}="([^"]*)"`).exec(m[1])?.[1] ?? "");
    out.push({
      file: attr("classname"),
      name: attr("name"),
      seconds: Number(attr("time")) || 0,
      failed: /<failure|<error/.test(m[3] ?? ""),
      skipped: /<skipped/.test(m[3] ?? ""),
    });
  }
  return out;
}

type Proc = RunProcess;

/** Processes this suite run left: this checkout's simulator, or anything naming the run's TMPDIR. */
function leftovers(tmp: string, before: Set<number>): Proc[] {
  const sim = path.join(ROOT, "sim", "main.ts");
  return liveProcesses().filter((p) =>
    !before.has(p.pid) && (p.args.includes(tmp) || p.args.includes(sim))
  );
}

/**
 * The processes scripts/test.ts found still running after the suite and killed, as its log names
 * them ("N process(es) of this run were still running and were killed:", then "  <pid> <args>").
 */
export function sweptByRunner(log: string): Proc[] {
  const m =
    /^\d+ process\(es\) of this run were still running and were killed:\n((?: {2}\d+ .*(?:\n|$))+)/m
      .exec(log);
  if (!m) return [];
  return m[1].split("\n").filter(Boolean).map((l) => {
    const [, pid, args] = /^ {2}(\d+) (.*)$/.exec(l)!;
    return { pid: Number(pid), args };
  });
}

/**
 * The run's TMPDIR: short (/tmp/rt<run><3 chars>), because the suite nests temp paths several
 * times in one path (the shell-metacharacter test) and SQLite refuses paths over 512 bytes.
 */
async function shortTmp(run: number): Promise<string> {
  for (;;) {
    const dir = `/tmp/rt${run}${Math.random().toString(36).slice(2, 5)}`;
    try {
      await Deno.mkdir(dir);
      return dir;
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    }
  }
}

/**
 * CPU seconds of the run's processes by kind, from /proc/<pid>/stat sampled every 250 ms (the
 * last sample of each process counts: the CPU of its last moments, and of processes shorter
 * than a sample, is missed). Where the suite's time goes on a machine whose cores it saturates.
 */
class CpuSampler {
  private readonly seen = new Map<string, { kind: string; ticks: number }>();
  constructor(private readonly tmp: string) {}

  private kind(pid: string, args: string): string | undefined {
    if (args.includes(path.join(ROOT, "sim", "main.ts"))) {
      return / mongos /.test(args) ? "simulated mongos" : "simulated mongod";
    }
    if (args.includes(path.join(ROOT, "main.ts"))) return "mup CLI";
    // This run's deno test, not another checkout's running meanwhile.
    if (
      /\btest -A\b/.test(args) && args.includes("--junit-path") &&
      Deno.readTextFileSync(`/proc/${pid}/environ`).split("\0").includes(`TMPDIR=${this.tmp}`)
    ) {
      return "deno test (tests, driver)";
    }
    if (args.includes(this.tmp)) return /sshd/.test(args) ? "sshd" : "other processes";
    return undefined;
  }

  private sample(): void {
    for (const e of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(e.name)) continue;
      try {
        const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
        const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        const key = `${e.name}:${f[19]}`; // pid and start time: a reused pid is another process
        const ticks = Number(f[11]) + Number(f[12]);
        const had = this.seen.get(key);
        if (had) {
          had.ticks = Math.max(had.ticks, ticks);
          continue;
        }
        const kind = this.kind(
          e.name,
          Deno.readTextFileSync(`/proc/${e.name}/cmdline`).replaceAll("\0", " "),
        );
        if (kind) this.seen.set(key, { kind, ticks });
      } catch {
        // Gone meanwhile.
      }
    }
  }

  async run(until: Promise<unknown>): Promise<void> {
    let done = false;
    until.finally(() => done = true);
    while (!done) {
      this.sample();
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  summary(): string {
    const by = new Map<string, { n: number; s: number }>();
    for (const v of this.seen.values()) {
      const b = by.get(v.kind) ?? { n: 0, s: 0 };
      b.n++;
      b.s += v.ticks / 100; // USER_HZ
      by.set(v.kind, b);
    }
    const total = [...by.values()].reduce((n, b) => n + b.s, 0);
    return `${total.toFixed(0)} s in all; ` +
      [...by].sort((a, b) => b[1].s - a[1].s).map(([k, b]) => `${k} ${b.s.toFixed(0)} s (${b.n})`)
        .join(", ");
  }
}

function fmtS(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

async function main(): Promise<void> {
  const o = parseArgs(Deno.args);
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const outDir = o.out || path.join(ROOT, ".repeat-tests", stamp);
  await Deno.mkdir(outDir, { recursive: true });
  const burners: Deno.ChildProcess[] = [];
  const stopBurners = () => {
    for (const b of burners.splice(0)) {
      try {
        b.kill("SIGKILL");
      } catch {
        // Already gone.
      }
    }
  };
  // The run under way when this runner is stopped: its suite is stopped too (scripts/test.ts
  // passes the SIGTERM on and kills what the tests left), then the burners.
  let current: Deno.ChildProcess | undefined;
  let currentTmp: string | undefined;
  const onSignal = async () => {
    try {
      current?.kill("SIGTERM");
    } catch {
      // Already gone.
    }
    await Promise.race([current?.status, new Promise((r) => setTimeout(r, 30_000))]);
    stopBurners();
    // The run's TMPDIR is this runner's to remove (scripts/test.ts leaves a given one).
    if (currentTmp) await Deno.remove(currentTmp, { recursive: true }).catch(() => {});
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const failures = new Map<string, number[]>();
  const runs: { run: number; passed: number; failed: number; ms: number; left: string }[] = [];
  try {
    for (let k = 0; k < o.burners; k++) {
      burners.push(new Deno.Command("yes", { stdout: "null", stderr: "null" }).spawn());
    }
    console.log(
      `${o.runs} run(s) of the suite, ${o.burners} CPU burner(s)${
        o.jobs ? `, DENO_JOBS=${o.jobs}` : ""
      }; reports in ${outDir}`,
    );
    for (let run = 1; run <= o.runs; run++) {
      const lastMs = runs.at(-1)?.ms ?? 0;
      if (o.until && Date.now() + lastMs > o.until) {
        console.log(`run ${run} not started: it would end after --until`);
        break;
      }
      const tmp = currentTmp = await shortTmp(run);
      const tmpBefore = new Set(Array.from(Deno.readDirSync("/tmp"), (e) => e.name));
      const procsBefore = new Set(liveProcesses().map((p) => p.pid));
      const junit = path.join(outDir, `run-${run}.xml`);
      const logFile = path.join(outDir, `run-${run}.log`);
      await Deno.writeTextFile(logFile, "");
      // One append-mode handle per stream: both go to the run's log.
      const open = () => Deno.open(logFile, { write: true, append: true });
      const [outLog, errLog] = [await open(), await open()];
      const t0 = performance.now();
      // scripts/test.ts itself (what `deno task test` runs), so that a signal reaches it.
      const child = current = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "scripts/test.ts", `--junit-path=${junit}`, ...o.extra],
        cwd: ROOT,
        env: { TMPDIR: tmp, NO_COLOR: "1", ...(o.jobs ? { DENO_JOBS: String(o.jobs) } : {}) },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const cpu = new CpuSampler(tmp);
      const sampling = cpu.run(child.status);
      await Promise.all([
        child.stdout.pipeTo(outLog.writable),
        child.stderr.pipeTo(errLog.writable),
      ]);
      const status = await child.status;
      const ms = performance.now() - t0;
      await sampling;
      const cases = parseJunit(await Deno.readTextFile(junit).catch(() => "")).filter((c) =>
        !c.skipped
      );
      const failed = cases.filter((c) => c.failed);
      for (const c of failed) {
        const key = `${c.file} :: ${c.name}`;
        failures.set(key, [...(failures.get(key) ?? []), run]);
      }
      // What the run left behind: files in its TMPDIR, new /tmp entries, processes.
      await new Promise((r) => setTimeout(r, 1000));
      const leftFiles = Array.from(Deno.readDirSync(tmp), (e) => e.name);
      const newTmp = Array.from(Deno.readDirSync("/tmp"), (e) => e.name).filter((n) =>
        !tmpBefore.has(n) && `/tmp/${n}` !== tmp
      );
      // scripts/test.ts kills what the run left and names it in the log: left all the same.
      const swept = sweptByRunner(await Deno.readTextFile(logFile).catch(() => ""));
      const procs = [...swept, ...leftovers(tmp, procsBefore)];
      const left =
        `${procs.length} process(es), ${leftFiles.length} entr(ies) in TMPDIR, ${newTmp.length} new in /tmp`;
      runs.push({ run, passed: cases.length - failed.length, failed: failed.length, ms, left });
      console.log(
        `run ${run}: exit ${status.code}, ${
          cases.length - failed.length
        } passed, ${failed.length} failed, ${fmtS(ms)}; left: ${left}`,
      );
      for (const c of failed) console.log(`  FAILED ${c.file} :: ${c.name}`);
      for (const p of procs) console.log(`  process ${p.pid}: ${p.args.slice(0, 200)}`);
      for (const f of leftFiles) console.log(`  TMPDIR entry: ${f}`);
      // Other work on the machine may create /tmp entries too: listed, not blamed.
      if (newTmp.length) {
        console.log(
          `  new in /tmp (other work on the machine may have made them): ${
            newTmp.slice(0, 10).join(" ")
          }${newTmp.length > 10 ? " …" : ""}`,
        );
      }
      for (const p of procs) {
        try {
          Deno.kill(p.pid, "SIGKILL");
        } catch {
          // Gone meanwhile.
        }
      }
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
      console.log(`  CPU (sampled every 250 ms, short processes undercounted): ${cpu.summary()}`);
      const slow = cases.toSorted((a, b) => b.seconds - a.seconds).slice(0, 5);
      console.log(
        `  slowest: ${
          slow.map((c) => `${c.seconds.toFixed(1)} s ${path.basename(c.file)}`).join(", ")
        }`,
      );
    }
  } finally {
    stopBurners();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
  console.log("\nsummary");
  for (const r of runs) {
    console.log(
      `  run ${r.run}: ${r.passed} passed, ${r.failed} failed, ${fmtS(r.ms)}; left ${r.left}`,
    );
  }
  const green = runs.filter((r) => r.failed === 0).length;
  console.log(`  ${green} of ${runs.length} runs green`);
  if (failures.size) {
    console.log("failures per test (run numbers):");
    for (const [k, v] of [...failures].sort((a, b) => b[1].length - a[1].length)) {
      console.log(`  ${v.length}× [${v.join(", ")}] ${k}`);
    }
  }
}

if (import.meta.main) await main();
