/**
 * The secrets store: `$MUP_HOME/storage/clusters/<name>/secrets/` (mode 0700, files 0600). Plans
 * name secrets by reference (settings.ts SECRET); only the operations that need a value, and
 * `mup cluster credentials`, read it here. Nothing read from this module is ever logged.
 */
import * as path from "node:path";
import { Buffer } from "node:buffer";
import { z } from "zod";
import { MupError } from "../errors.ts";
import { FILE_MODE, privateDir, writeFileAtomic } from "../state/atomic.ts";
import { insideStore } from "../util/ident.ts";
import { storageRoot } from "../util/path.ts";
import { SECRET, type SecretRef } from "./settings.ts";

export const SECRETS_FORMAT_VERSION = 1;

/** `secrets/admin.json`: the first user's credentials. */
export const AdminCredentials = z.object({
  format_version: z.literal(SECRETS_FORMAT_VERSION),
  user: z.string().min(1),
  /**
   * Generated: 32 characters (newPassword). Given by the user (`cluster credentials
   * --password-stdin`: the one the cluster has), any length MongoDB accepts (tester47: a
   * 10-character one was stored, then read as damaged).
   */
  password: z.string().min(1),
  /** The database the user is defined on. */
  db: z.literal("admin"),
}).strict();
export type AdminCredentials = z.infer<typeof AdminCredentials>;

/** The cluster's secrets directory (proven inside $MUP_HOME). */
export function secretsDir(cluster: string): string {
  const root = storageRoot();
  return insideStore(root, path.join(root, "clusters", cluster, "secrets"));
}

/** The CA's private key: kept beside the CA, never on a host; only signing needs it. */
export const CA_KEY = "secret:ca-key";

/** How messages name each secret ("the cluster's …"); the plural ones end in "s". */
export const SECRET_NOUN: Record<SecretRef | typeof CA_KEY, string> = {
  [SECRET.keyfile]: "keyfile",
  [SECRET.admin]: "admin credentials",
  [SECRET.ca]: "CA",
  [CA_KEY]: "CA's key",
};

const FILES: Record<SecretRef | typeof CA_KEY, string> = {
  [SECRET.keyfile]: "keyfile",
  [SECRET.admin]: "admin.json",
  [SECRET.ca]: "ca.pem",
  [CA_KEY]: "ca.key",
};

/**
 * The file a reference names: a fixed secret, or `secret:cert:<process>` (a process's TLS
 * certificate and key, secrets/certs/<process>.pem). Throws on a reference mup does not know (a
 * plan is untrusted input).
 */
export function secretPath(cluster: string, ref: string): string {
  const cert = /^secret:cert:([A-Za-z0-9][A-Za-z0-9_.:-]{0,200})$/.exec(ref);
  if (cert && !cert[1].includes("..")) {
    return path.join(secretsDir(cluster), "certs", `${cert[1]}.pem`);
  }
  const f = FILES[ref as SecretRef];
  if (!f) throw new MupError(`unknown secret reference "${ref}"`);
  return path.join(secretsDir(cluster), f);
}

/** Whether the secret exists (the idempotence check of generating it). */
export async function secretExists(cluster: string, ref: string): Promise<boolean> {
  try {
    return (await Deno.stat(secretPath(cluster, ref))).isFile;
  } catch {
    return false;
  }
}

/** Writes a secret atomically: directory 0700, file 0600. */
export async function writeSecret(cluster: string, ref: string, data: string): Promise<void> {
  await privateDir(secretsDir(cluster));
  await Deno.chmod(secretsDir(cluster), 0o700);
  await privateDir(path.dirname(secretPath(cluster, ref)));
  await writeFileAtomic(secretPath(cluster, ref), data, { mode: FILE_MODE });
}

/** Random bytes from the platform's CSPRNG (crypto.getRandomValues), base64. */
function randomBase64(bytes: number): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString("base64");
}

/**
 * A keyfile as MongoDB's documentation makes one (`openssl rand -base64 756`): 756 random bytes,
 * base64 (1,008 characters of the base64 set; mongod accepts 6 to 1,024).
 */
export function newKeyfile(): string {
  return randomBase64(756) + "\n";
}

/** A password of 32 URL-safe characters (24 random bytes): nothing to escape in a URI. */
export function newPassword(): string {
  return randomBase64(24).replaceAll("+", "-").replaceAll("/", "_");
}

/** Where a keyfile the topology names is read: `~/` is the user's home; otherwise as given. */
export function keyfileSource(given: string): string {
  return given.startsWith("~/") ? `${Deno.env.get("HOME") ?? ""}${given.slice(1)}` : given;
}

/** Checks a user's own keyfile the way mongod reads one; throws a MupError naming the fix. */
export function checkKeyfile(text: string, file: string): string {
  const key = text.replace(/\s/g, "");
  if (key.length < 6 || key.length > 1024 || !/^[A-Za-z0-9+/=]+$/.test(key)) {
    throw new MupError(
      `keyfile ${file} is not a MongoDB keyfile (6 to 1,024 base64 characters)`,
      { hint: "make one with `openssl rand -base64 756`, or remove global.security.keyfile" },
    );
  }
  return text;
}

/** The admin credentials, or undefined before they are generated. Throws if damaged. */
export async function readAdmin(cluster: string): Promise<AdminCredentials | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(secretPath(cluster, SECRET.admin));
  } catch {
    return undefined;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    raw = undefined;
  }
  const parsed = AdminCredentials.safeParse(raw);
  if (!parsed.success) {
    // The message never quotes the file: it holds a password.
    throw new MupError(`${secretPath(cluster, SECRET.admin)} is damaged`, {
      hint: "restore it from a backup of $MUP_HOME, or replace it with the password the " +
        `admin user has: \`printf '%s' "$PASSWORD" | mup cluster credentials ${cluster} ` +
        "--password-stdin`",
    });
  }
  return parsed.data;
}
