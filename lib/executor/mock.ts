import type { Operation, WorldSimulator } from "../ops/operation.ts";
import type { PlannedOperation, SafetyCheck } from "../plan/schema.ts";
import { sha256Hex } from "../util/hash.ts";
import type { Executor, ExecutorFactory, RunResult } from "./executor.ts";

/** Operation types whose real implementation works through the executor alone. */
const THROUGH_EXECUTOR = new Set(["create_directory", "remove_directory"]);

/**
 * An in-memory world for tests (the specification's MockExecutor): files and directories live in
 * maps, every call is recorded, a path can be made to fail. Applying a plan with it has no side
 * effects: operations that work through the executor run for real against the maps; the others
 * (downloads, staged configuration files, processes, replica sets, shards, metadata) are
 * simulated in memory and recorded as `op <type> <id>` in `calls`. `simulateFailure` names an
 * operation that fails when it runs; `failChecks` safety checks (by id or check type) that fail.
 */
export class MockExecutor implements Executor, ExecutorFactory, WorldSimulator {
  readonly simulatesWorld = true as const;
  /** Operation ID that fails when it runs (the specification's SimulateFailure). */
  simulateFailure?: string;
  /** Safety checks (ID or check_type) whose outcome is a failure. */
  readonly failChecks = new Set<string>();
  /** IDs of the simulated operations done in this world. */
  readonly done = new Set<string>();
  readonly files = new Map<string, Uint8Array>();
  readonly dirs = new Set<string>();
  readonly calls: string[] = [];
  /** Paths whose mkdir/write fails, to simulate a broken host. */
  readonly failPaths = new Set<string>();
  busyPorts = new Set<number>();

  constructor(readonly host = "mock") {}

  forHost(): Executor {
    return this;
  }

  private fail(p: string): void {
    if (this.failPaths.has(p)) throw new Error(`simulated failure on ${p}`);
  }

  run(argv: string[]): Promise<RunResult> {
    this.calls.push(`run ${JSON.stringify(argv)}`);
    return Promise.resolve({ code: 0, stdout: "", stderr: "" });
  }
  writeFile(p: string, data: Uint8Array | string): Promise<void> {
    this.calls.push(`write ${p}`);
    this.fail(p);
    this.files.set(p, typeof data === "string" ? new TextEncoder().encode(data) : data);
    return Promise.resolve();
  }
  readFile(p: string): Promise<Uint8Array | undefined> {
    return Promise.resolve(this.files.get(p));
  }
  sha256(p: string): Promise<string | undefined> {
    const data = this.files.get(p);
    return Promise.resolve(data ? sha256Hex(data) : undefined);
  }
  mkdir(p: string): Promise<void> {
    this.calls.push(`mkdir ${p}`);
    this.fail(p);
    this.dirs.add(p);
    return Promise.resolve();
  }
  exists(p: string): Promise<boolean> {
    return Promise.resolve(this.dirs.has(p) || this.files.has(p));
  }
  remove(p: string): Promise<void> {
    this.calls.push(`remove ${p}`);
    this.dirs.delete(p);
    this.files.delete(p);
    return Promise.resolve();
  }
  upload(localDir: string, remoteDir: string): Promise<void> {
    this.calls.push(`upload ${localDir} ${remoteDir}`);
    return Promise.resolve();
  }
  freeDiskMb(): Promise<number> {
    return Promise.resolve(100_000);
  }
  portFree(port: number): Promise<boolean> {
    return Promise.resolve(!this.busyPorts.has(port));
  }
  processAlive(): Promise<boolean> {
    return Promise.resolve(false);
  }
  signal(): Promise<void> {
    return Promise.resolve();
  }

  operation(op: PlannedOperation, real: Operation): Operation {
    const failIfTold = () => {
      if (op.id === this.simulateFailure) {
        throw new Error(`simulated failure of operation ${op.id}`);
      }
    };
    if (THROUGH_EXECUTOR.has(op.type)) {
      return {
        isDone: (ctx) => real.isDone(ctx),
        run: (ctx) => (failIfTold(), real.run(ctx)),
      };
    }
    return {
      isDone: () => Promise.resolve(this.done.has(op.id)),
      run: () => {
        this.calls.push(`op ${op.type} ${op.id}`);
        failIfTold();
        this.done.add(op.id);
        return Promise.resolve({ output: `simulated ${op.type}` });
      },
    };
  }

  check(check: SafetyCheck): Promise<{ ok: boolean; status: string }> {
    this.calls.push(`check ${check.check_type} ${check.id}`);
    if (this.failChecks.has(check.id) || this.failChecks.has(check.check_type)) {
      return Promise.resolve({ ok: false, status: `simulated failure of check ${check.id}` });
    }
    const port = Number(check.params.port);
    if (check.check_type === "port_available" && this.busyPorts.has(port)) {
      return Promise.resolve({ ok: false, status: `Port now in use` });
    }
    return Promise.resolve({ ok: true, status: "simulated" });
  }
}
