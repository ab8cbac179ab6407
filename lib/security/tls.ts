/**
 * The cluster's TLS material, made with the system's `openssl` (never hand-written crypto): a
 * cluster CA (`secrets/ca.pem`, its key `secrets/ca.key`) and one certificate per process
 * (`secrets/certs/<process>.pem`: certificate and key, as mongod's net.tls.certificateKeyFile
 * wants them) whose subjectAltName holds the host's name or address, and localhost/127.0.0.1/::1
 * (mup reaches a process on its host's loopback for the localhost exception). openssl is given
 * file paths only; no key material is ever on a command line.
 */
import * as path from "node:path";
import { MupError } from "../errors.ts";
import { FILE_MODE, privateDir } from "../state/atomic.ts";
import { CA_KEY, secretPath, secretsDir, writeSecret } from "./secrets.ts";

/** Runs openssl in `cwd`; throws a MupError with its message when it fails or is missing. */
async function openssl(cwd: string, args: string[]): Promise<void> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("openssl", {
      args,
      cwd,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new MupError("openssl is not installed on this machine (TLS needs it)", {
        hint:
          "install it (Debian/Ubuntu: apt-get install openssl), or set global.security.tls: false",
      });
    }
    throw e;
  }
  if (out.code !== 0) {
    const msg = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-1)[0];
    throw new MupError(`openssl ${args[0]} failed: ${msg}`);
  }
}

/** The prefix of the scratch directories of TLS work in a cluster's secrets store. */
export const SCRATCH_PREFIX = ".tls-";

/**
 * Removes the TLS scratch directories in secrets directory `dir`, but those whose names start
 * with `keep` (this process's own). Never throws.
 */
export async function removeScratch(dir: string, keep?: string): Promise<void> {
  for (const e of await Array.fromAsync(Deno.readDir(dir)).catch(() => [])) {
    if (!e.isDirectory || !e.name.startsWith(SCRATCH_PREFIX)) continue;
    if (keep && e.name.startsWith(keep)) continue;
    await Deno.remove(path.join(dir, e.name), { recursive: true }).catch(() => {});
  }
}

/**
 * A scratch directory inside the secrets store (0700, named with this process's PID), removed
 * afterwards. Ones a killed mup left (private keys among them) are removed first: the cluster's
 * lock lets no other mup work on this cluster meanwhile, so any not of this process is stale.
 */
async function scratch<T>(cluster: string, f: (dir: string) => Promise<T>): Promise<T> {
  await privateDir(secretsDir(cluster));
  const mine = `${SCRATCH_PREFIX}${Deno.pid}-`;
  await removeScratch(secretsDir(cluster), mine);
  const dir = await Deno.makeTempDir({ dir: secretsDir(cluster), prefix: mine });
  await Deno.chmod(dir, 0o700);
  try {
    return await f(dir);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Creates the cluster CA: a 2048-bit RSA key and a self-signed certificate (10 years). */
export async function makeCa(cluster: string): Promise<void> {
  await scratch(cluster, async (dir) => {
    await openssl(dir, [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      "ca.key",
      "-out",
      "ca.pem",
      "-days",
      "3650",
      "-subj",
      `/CN=mup ${cluster} CA`,
    ]);
    // The key first: a CA certificate without its key could sign nothing.
    await writeSecret(cluster, CA_KEY, await Deno.readTextFile(path.join(dir, "ca.key")));
    await writeSecret(cluster, "secret:ca", await Deno.readTextFile(path.join(dir, "ca.pem")));
  });
}

/**
 * openssl verify's arguments that also check a certificate names `host` (a name, or an IP
 * address, as mup's own certificates' subjectAltName holds it): the name a member's set and
 * mup's clients reach it by.
 */
export function hostCheckArgs(host: string): string[] {
  const h = host.replace(/^\[(.*)\]$/, "$1");
  const ip = /^\d+\.\d+\.\d+\.\d+$/.test(h) || h.includes(":");
  return ip ? ["-verify_ip", h] : ["-verify_hostname", h];
}

/** What `openssl verify` said of one certificate (verifyCertificate). */
export type Verdict =
  /** Signed by the CA (and, with a host, naming it). */
  | { ok: true }
  /**
   * Not: `said` is openssl's reason ("self-signed certificate"); `misnamed`, signed by the CA
   * but for another host (openssl's errors 62 and 64).
   */
  | { ok: false; said?: string; misnamed?: boolean }
  /** openssl could not run (its error). */
  | { unavailable: string };

/**
 * `openssl verify -CAfile ca` of one certificate: a file (`path`), or the first certificate of
 * a PEM text (`pem`, a host's copy read from it: its key may follow, and is never passed on;
 * the certificate goes on openssl's stdin). With `host`, it must name that host too
 * (hostCheckArgs).
 */
export async function verifyCertificate(
  ca: string,
  cert: { path: string } | { pem: string },
  host?: string,
): Promise<Verdict> {
  const text = "pem" in cert
    ? cert.pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/)?.[0]
    : undefined;
  if ("pem" in cert && !text) return { ok: false, said: "no certificate in it" };
  let out: Deno.CommandOutput;
  try {
    const child = new Deno.Command("openssl", {
      args: [
        "verify",
        ...(host ? hostCheckArgs(host) : []),
        "-CAfile",
        ca,
        ...("path" in cert ? [cert.path] : []),
      ],
      stdin: text ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    if (text) {
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode(text + "\n"));
      await w.close();
    }
    out = await child.output();
  } catch (e) {
    return { unavailable: (e as Error).message };
  }
  if (out.code === 0) return { ok: true };
  const said = new TextDecoder().decode(out.stderr).trim().split("\n")
    .find((l) => /error \d+/.test(l))?.replace(/^.*?error \d+ at \d+ depth lookup: ?/, "");
  const misnamed = /hostname mismatch|IP address mismatch/.test(said ?? "");
  return { ok: false, ...(said ? { said } : {}), ...(misnamed ? { misnamed } : {}) };
}

/**
 * Whether the certificate stored under `ref` was signed by the cluster CA now in the store
 * (verifyCertificate), and with `host`, whether it names that host too: one of an earlier CA
 * (made again after its key was lost) or of another host is not this process's, and is made
 * anew. False when either file is missing or openssl cannot run.
 */
export async function signedByClusterCa(
  cluster: string,
  ref: string,
  host?: string,
): Promise<boolean> {
  const v = await verifyCertificate(
    secretPath(cluster, "secret:ca"),
    { path: secretPath(cluster, ref) },
    host,
  );
  return "ok" in v && v.ok;
}

/**
 * Whether the store's CA certificate is the one of the store's CA key (their public keys are
 * one, `openssl x509 -pubkey` and `openssl pkey -pubout`). True when either cannot be read
 * (a missing file is said elsewhere).
 */
export async function caPairMatches(cluster: string): Promise<boolean> {
  const pub = async (args: string[]) => {
    const out = await new Deno.Command("openssl", { args, stdin: "null", stderr: "null" })
      .output().catch(() => undefined);
    return out?.code === 0 ? new TextDecoder().decode(out.stdout).trim() : undefined;
  };
  const [a, b] = await Promise.all([
    pub(["x509", "-noout", "-pubkey", "-in", secretPath(cluster, "secret:ca")]),
    pub(["pkey", "-pubout", "-in", secretPath(cluster, CA_KEY)]),
  ]);
  return a === undefined || b === undefined || a === b;
}

/** The subjectAltName entries of a process on `host`. */
export function subjectAltNames(host: string): string[] {
  const h = host.replace(/^\[(.*)\]$/, "$1");
  const ip = /^\d+\.\d+\.\d+\.\d+$/.test(h) || h.includes(":");
  const names = new Set([ip ? `IP:${h}` : `DNS:${h}`, "DNS:localhost", "IP:127.0.0.1", "IP:::1"]);
  return [...names];
}

/**
 * Creates one process's certificate signed by the cluster CA (825 days), with serverAuth and
 * clientAuth (members present it to each other), and stores certificate + key under `ref`.
 */
export async function makeCertificate(cluster: string, ref: string, host: string): Promise<void> {
  const dir0 = secretsDir(cluster);
  await scratch(cluster, async (dir) => {
    await Deno.writeTextFile(
      path.join(dir, "ext.cnf"),
      `subjectAltName=${subjectAltNames(host).join(",")}\n` +
        "extendedKeyUsage=serverAuth,clientAuth\n",
      { mode: FILE_MODE },
    );
    await openssl(dir, [
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      "p.key",
      "-out",
      "p.csr",
      "-subj",
      `/CN=${host.replace(/^\[(.*)\]$/, "$1")}`,
    ]);
    await openssl(dir, [
      "x509",
      "-req",
      "-in",
      "p.csr",
      "-CA",
      path.join(dir0, "ca.pem"),
      "-CAkey",
      path.join(dir0, "ca.key"),
      "-CAcreateserial",
      "-CAserial",
      path.join(dir, "ca.srl"),
      "-out",
      "p.crt",
      "-days",
      "825",
      "-extfile",
      "ext.cnf",
    ]);
    const pem = (await Deno.readTextFile(path.join(dir, "p.crt"))) +
      (await Deno.readTextFile(path.join(dir, "p.key")));
    await writeSecret(cluster, ref, pem);
  });
}
