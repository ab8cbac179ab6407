import * as path from "node:path";
import { MongoClient, type MongoClientOptions } from "mongodb";
import type { ApplyState } from "../lib/state/schema.ts";
import { clusterCredentials, mup, output, readJson } from "./helpers.ts";
import { deadline } from "./fixture.ts";

export function clusterDir(home: string, cluster: string): string {
  return path.join(home, "storage", "clusters", cluster);
}

export async function currentState(home: string, cluster: string): Promise<ApplyState> {
  const r = await mup(["state", "show", cluster, "--json"], { home });
  if (r.code !== 0) throw new Error(`mup state show ${cluster}: ${output(r)}`);
  return JSON.parse(r.stdout);
}

/** Every log file of every process the cluster deployed. */
export async function processLogs(home: string, cluster: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const logs = path.join(clusterDir(home, cluster), "deploy", "logs");
  for await (const d of Deno.readDir(logs)) {
    for await (const f of Deno.readDir(path.join(logs, d.name))) {
      out.set(d.name, await Deno.readTextFile(path.join(logs, d.name, f.name)));
    }
  }
  return out;
}

export function count(text: string, pattern: RegExp): number {
  return text.split("\n").filter((l) => pattern.test(l)).length;
}

/** The cluster a test client logs in to: its admin credentials are read from mup. */
export interface ClientAuth {
  home: string;
  cluster: string;
}

/** Driver options that log in as the cluster's admin user (see helpers.ts clusterCredentials). */
export async function authOptions(as?: ClientAuth): Promise<MongoClientOptions> {
  if (!as) return {};
  const cred = await clusterCredentials(as.home, as.cluster);
  return { auth: { username: cred.user, password: cred.password }, authSource: "admin" };
}

/** A driver client on `uri` (authenticated as the cluster's admin with `as`), always closed. */
export async function withClient<T>(
  uri: string,
  f: (c: MongoClient) => Promise<T>,
  as?: ClientAuth,
): Promise<T> {
  const c = new MongoClient(uri, {
    serverSelectionTimeoutMS: deadline(15_000),
    ...(await authOptions(as)),
  });
  try {
    return await f(c);
  } finally {
    await c.close();
  }
}

export async function meta(home: string, cluster: string): Promise<Record<string, unknown>> {
  const { parse } = await import("yaml");
  return parse(await Deno.readTextFile(path.join(clusterDir(home, cluster), "meta.yaml")));
}

export { readJson };
