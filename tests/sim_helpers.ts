import * as path from "node:path";
import { MongoClient } from "mongodb";
import { killAll, testMirror } from "./helpers.ts";
import { platformTargets } from "../sim/mirror.ts";

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
  const out = await new Deno.Command(bin, {
    args,
    env,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
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
  const c = new MongoClient(
    `mongodb://localhost:${port}/?directConnection=true&serverSelectionTimeoutMS=5000`,
  );
  try {
    return await c.db("admin").command(cmd);
  } finally {
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

export async function waitFor<T>(f: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await f().catch(() => undefined);
    if (v !== undefined && v !== false) return v as T;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("condition not met in time");
}

export async function withDir(f: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "mup-sim-" });
  try {
    await f(dir);
  } finally {
    await killAll(dir);
  }
}
