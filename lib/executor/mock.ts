import { sha256Hex } from "../util/hash.ts";
import type { Executor, ExecutorFactory, RunResult } from "./executor.ts";

/**
 * An in-memory host for unit tests (the specification's MockExecutor): files and directories
 * live in maps, every call is recorded, and a path can be made to fail.
 */
export class MockExecutor implements Executor, ExecutorFactory {
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
}
