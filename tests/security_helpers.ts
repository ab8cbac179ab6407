/** Helpers of the security tests: leak scans, file modes, ps sampling, driver failures. */
import assert from "node:assert/strict";
import * as path from "node:path";
import { MongoClient } from "mongodb";

/** The error a promise rejects with (fails the test if it resolves). */
export async function failure(p: Promise<unknown>): Promise<{ code?: number; message: string }> {
  try {
    await p;
  } catch (e) {
    return e as { code?: number; message: string };
  }
  throw new Error("expected a failure");
}

/**
 * `f` with a driver client logged in as the cluster's admin (`cred`, from `mup cluster
 * credentials --json`) on the one server `host:port` (directConnection), always closed.
 */
export function asAdmin<T>(
  cred: { user: string; password: string },
  hostPort: string,
  f: (c: MongoClient) => Promise<T>,
): Promise<T> {
  return client(
    `mongodb://${encodeURIComponent(cred.user)}:${encodeURIComponent(cred.password)}@` +
      `${hostPort}/?authSource=admin&directConnection=true`,
    f,
  );
}

/** A driver client on `uri` with these options, always closed. */
export async function client<T>(
  uri: string,
  f: (c: MongoClient) => Promise<T>,
  options: ConstructorParameters<typeof MongoClient>[1] = {},
): Promise<T> {
  const c = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000, ...options });
  try {
    return await f(c);
  } finally {
    await c.close();
  }
}

/**
 * What a client of one server gets: `f`'s value, or the error that stopped it. A server that
 * refuses the connection (a plain client at a TLS-only port, a certificate the client does not
 * trust, a TLS client at a plain port) is reported as soon as the driver's first check of it
 * fails, not after serverSelectionTimeoutMS: refusals are immediate, and only a server that
 * accepts may be slow (a loaded machine), so that one gets a generous deadline.
 */
export async function outcome<T>(
  uri: string,
  f: (c: MongoClient) => Promise<T>,
  options: ConstructorParameters<typeof MongoClient>[1] = {},
): Promise<{ value?: T; error?: Error }> {
  const c = new MongoClient(uri, { serverSelectionTimeoutMS: 30_000, ...options });
  let refused!: (e: Error) => void;
  const refusal = new Promise<never>((_, reject) => refused = reject);
  let checked = false;
  c.on("serverHeartbeatSucceeded", () => checked = true);
  c.on("serverHeartbeatFailed", (ev) => {
    if (!checked) refused(ev.failure);
  });
  try {
    return { value: await Promise.race([f(c), refusal]) };
  } catch (e) {
    return { error: e as Error };
  } finally {
    await c.close();
  }
}

/** Every file and directory under `root` (symlinks not followed). */
export async function walk(root: string): Promise<{ path: string; info: Deno.FileInfo }[]> {
  const out: { path: string; info: Deno.FileInfo }[] = [];
  const go = async (d: string): Promise<void> => {
    for await (const e of Deno.readDir(d)) {
      const p = path.join(d, e.name);
      const info = await Deno.lstat(p).catch(() => undefined);
      if (!info) continue; // removed meanwhile
      out.push({ path: p, info });
      if (info.isDirectory) await go(p);
    }
  };
  await go(root);
  return out;
}

/**
 * Every file under `home` is 0600 and every directory 0700, except executables (the server
 * binaries: 0700) and the keyfile installed on the host (0400). Returns what was checked.
 */
export async function assertPrivateModes(home: string): Promise<number> {
  const bad: string[] = [];
  const entries = await walk(home);
  for (const { path: p, info } of entries) {
    // The test's own topology files, written beside mup's store.
    if (info.isSymlink || (path.dirname(p) === home && p.endsWith(".yaml"))) continue;
    const mode = (info.mode ?? 0) & 0o777;
    if (info.isDirectory) {
      if (mode !== 0o700) bad.push(`${mode.toString(8)} ${p}/`);
    } else if (p.endsWith(`${path.sep}secrets${path.sep}keyfile`) && p.includes("/deploy/")) {
      if (mode !== 0o400) bad.push(`${mode.toString(8)} ${p}`);
    } else if (/\/bin\/mongo[ds]$/.test(p)) {
      if (mode !== 0o700) bad.push(`${mode.toString(8)} ${p}`);
    } else if (mode !== 0o600) bad.push(`${mode.toString(8)} ${p}`);
  }
  assert.deepEqual(bad, [], "files 0600, directories 0700");
  return entries.length;
}

/**
 * Files under `home` that contain one of `secrets`, leaving out the cluster's secrets store
 * (`storage/clusters/<name>/secrets/`) and the keyfile copy installed on the host (`deploy/`
 * `secrets/keyfile`, mode 0400, which the servers read).
 */
export async function filesHolding(home: string, secrets: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const { path: p, info } of await walk(home)) {
    if (!info.isFile) continue;
    if (/\/storage\/clusters\/[^/]+\/secrets\//.test(p)) continue;
    if (/\/deploy\/secrets\/keyfile$/.test(p)) continue;
    const data = await Deno.readFile(p).catch(() => undefined);
    if (!data) continue;
    const text = new TextDecoder("latin1").decode(data);
    if (secrets.some((s) => text.includes(s))) out.push(p);
  }
  return out;
}

/** Samples `ps -eo args` every 50 ms until stopped; every command line seen. */
export function psSampler(): { stop: () => Promise<string[]> } {
  const seen = new Set<string>();
  let running = true;
  const loop = (async () => {
    while (running) {
      const r = await new Deno.Command("ps", { args: ["-eo", "args"], stdout: "piped" }).output();
      for (const l of new TextDecoder().decode(r.stdout).split("\n")) seen.add(l);
      await new Promise((res) => setTimeout(res, 50));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return [...seen];
    },
  };
}

/** The keyfile's content (whitespace removed) and the admin password of a cluster. */
export async function clusterSecrets(
  home: string,
  cluster: string,
): Promise<{ key: string; password: string }> {
  const dir = path.join(home, "storage", "clusters", cluster, "secrets");
  const key = (await Deno.readTextFile(path.join(dir, "keyfile"))).replace(/\s/g, "");
  const { password } = JSON.parse(await Deno.readTextFile(path.join(dir, "admin.json")));
  return { key, password };
}

/** Pieces of the secrets to look for: the password, and slices of the keyfile. */
export function needles(s: { key: string; password: string }): string[] {
  return [s.password, s.key.slice(0, 40), s.key.slice(500, 540), s.key.slice(-40)];
}

/**
 * A certificate and its key made by the openssl commands `steps` (run in a scratch directory,
 * each one's failure thrown with openssl's message): they write `c.pem` and `k.pem` there.
 */
async function madeByOpenssl(
  steps: string[][],
  files: Record<string, string> = {},
): Promise<{ cert: string; key: string }> {
  const dir = await Deno.makeTempDir();
  try {
    for (const [name, text] of Object.entries(files)) {
      await Deno.writeTextFile(`${dir}/${name}`, text);
    }
    for (const args of steps) {
      const r = await new Deno.Command("openssl", {
        args,
        cwd: dir,
        stdout: "null",
        stderr: "piped",
      }).output();
      if (r.code !== 0) throw new Error(new TextDecoder().decode(r.stderr));
    }
    return {
      cert: await Deno.readTextFile(`${dir}/c.pem`),
      key: await Deno.readTextFile(`${dir}/k.pem`),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * A self-signed certificate and its key made by openssl outside any cluster's store (another
 * CA, or a member certificate the cluster's CA did not sign): `cert` and `key` as PEM text.
 */
export function selfSigned(subject: string): Promise<{ cert: string; key: string }> {
  return madeByOpenssl([
    ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "k.pem", "-out", "c.pem"]
      .concat(["-days", "2", "-subj", subject]),
  ]);
}

/**
 * A certificate for `dns` (its only subjectAltName) signed by the CA whose files are `ca` and
 * `caKey`, and its key: one of the cluster's CA for another host (tester37).
 */
export function signedFor(
  dns: string,
  ca: string,
  caKey: string,
): Promise<{ cert: string; key: string }> {
  return madeByOpenssl([
    ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "k.pem", "-out", "r.csr"]
      .concat(["-subj", `/CN=${dns}`]),
    ["x509", "-req", "-in", "r.csr", "-CA", ca, "-CAkey", caKey, "-CAcreateserial"]
      .concat(["-CAserial", "ca.srl", "-out", "c.pem", "-days", "2", "-extfile", "ext.cnf"]),
  ], { "ext.cnf": `subjectAltName=DNS:${dns}\nextendedKeyUsage=serverAuth,clientAuth\n` });
}
