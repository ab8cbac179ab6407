/**
 * SCRAM (RFC 5802, RFC 7677) as MongoDB speaks it: the credentials kept in admin.system.users,
 * the server's side of saslStart/saslContinue, and the client side members use to authenticate
 * to each other as `__system`. PBKDF2 comes from WebCrypto, the other primitives from node:crypto.
 */
import { Buffer } from "node:buffer";
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";

export type Mechanism = "SCRAM-SHA-1" | "SCRAM-SHA-256";
export const MECHANISMS: Mechanism[] = ["SCRAM-SHA-1", "SCRAM-SHA-256"];

/** One mechanism's entry of a user document's `credentials` (base64 strings, as MongoDB). */
export interface ScramCredential {
  iterationCount: number;
  salt: string;
  storedKey: string;
  serverKey: string;
}

const ALGO = { "SCRAM-SHA-1": "sha1", "SCRAM-SHA-256": "sha256" } as const;
const KEYLEN = { "SCRAM-SHA-1": 20, "SCRAM-SHA-256": 32 } as const;
/** MongoDB's defaults: scramIterationCount 10000, scramSHA256IterationCount 15000. */
const ITERATIONS = { "SCRAM-SHA-1": 10_000, "SCRAM-SHA-256": 15_000 } as const;
/** Salt lengths MongoDB uses: the hash's output length minus 4 bytes. */
const SALT_LEN = { "SCRAM-SHA-1": 16, "SCRAM-SHA-256": 28 } as const;

/**
 * The password SCRAM-SHA-1 hashes in MongoDB: hex MD5 of "user:mongo:password"
 * (SCRAM-SHA-256 uses the SASLprep'd password itself; ASCII passwords are unchanged).
 */
export function mechanismPassword(mech: Mechanism, user: string, password: string): string {
  if (mech === "SCRAM-SHA-256") return password.normalize("NFKC");
  return createHash("md5").update(`${user}:mongo:${password}`).digest("hex");
}

function hmac(mech: Mechanism, key: Buffer, data: string): Buffer {
  return createHmac(ALGO[mech], key).update(data).digest();
}

function hash(mech: Mechanism, data: Buffer): Buffer {
  return createHash(ALGO[mech]).update(data).digest();
}

/** WebCrypto's hash names for the mechanisms' PBKDF2. */
const SUBTLE_HASH = { "SCRAM-SHA-1": "SHA-1", "SCRAM-SHA-256": "SHA-256" } as const;
/**
 * Salted passwords already derived, as drivers keep them (the Node driver's HI cache): the same
 * password, salt and iteration count always give the same key, so a member reconnecting to a
 * peer does not pay PBKDF2's 10,000–15,000 rounds again. Bounded like the drivers' cache.
 */
const saltedCache = new Map<string, Buffer>();
const SALTED_CACHE_MAX = 200;

/**
 * Hi(password, salt, i) of RFC 5802 §2.2 (PBKDF2 with the mechanism's HMAC), by WebCrypto:
 * several times faster here than node:crypto's pbkdf2Sync for SHA-256.
 */
async function saltedPassword(
  mech: Mechanism,
  user: string,
  password: string,
  salt: Buffer,
  iterations: number,
): Promise<Buffer> {
  const pwd = mechanismPassword(mech, user, password);
  const key = [mech, pwd, salt.toString("base64"), iterations].join("\0");
  const hit = saltedCache.get(key);
  if (hit) return hit;
  const base = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(pwd),
    "PBKDF2",
    false,
    ["deriveBits"],
  );
  const bits = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: SUBTLE_HASH[mech], salt: new Uint8Array(salt), iterations },
    base,
    KEYLEN[mech] * 8,
  );
  const salted = Buffer.from(bits);
  if (saltedCache.size >= SALTED_CACHE_MAX) saltedCache.clear();
  saltedCache.set(key, salted);
  return salted;
}

/** New credentials for `user` (fresh random salt, MongoDB's default iteration counts). */
export async function makeCredential(
  mech: Mechanism,
  user: string,
  password: string,
): Promise<ScramCredential> {
  const salt = randomBytes(SALT_LEN[mech]);
  const salted = await saltedPassword(mech, user, password, salt, ITERATIONS[mech]);
  return {
    iterationCount: ITERATIONS[mech],
    salt: salt.toString("base64"),
    storedKey: hash(mech, hmac(mech, salted, "Client Key")).toString("base64"),
    serverKey: hmac(mech, salted, "Server Key").toString("base64"),
  };
}

/** RFC 5802 attribute parsing: "a=1,b=2" → {a: "1", b: "2"}. */
function attrs(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of s.split(",")) {
    const i = part.indexOf("=");
    if (i > 0) out[part.slice(0, i)] = part.slice(i + 1);
  }
  return out;
}

/** RFC 5802 saslname decoding (=2C → ",", =3D → "="). */
function decodeName(s: string): string {
  return s.replace(/=2C/g, ",").replace(/=3D/g, "=");
}

function encodeName(s: string): string {
  return s.replace(/=/g, "=3D").replace(/,/g, "=2C");
}

/** Raised when a conversation fails; the server answers 18 AuthenticationFailed. */
export class ScramError extends Error {}

/** The server side of one conversation, from client-first to server-final. */
export class ServerConversation {
  user = "";
  private clientFirstBare = "";
  private serverFirst = "";
  private nonce = "";
  private cred?: ScramCredential;
  done = false;

  constructor(readonly mech: Mechanism) {}

  /** Parses client-first ("n,,n=user,r=nonce") and returns the user name it names. */
  start(clientFirst: string): string {
    const m = /^([nyp][^,]*),([^,]*),(.*)$/.exec(clientFirst);
    if (!m || m[1] !== "n") throw new ScramError("Incorrect SCRAM client first message");
    this.clientFirstBare = m[3];
    const a = attrs(this.clientFirstBare);
    if (a.n === undefined || !a.r) throw new ScramError("Invalid SCRAM client first message");
    this.user = decodeName(a.n);
    this.nonce = a.r + randomBytes(24).toString("base64");
    return this.user;
  }

  /** server-first: "r=nonce,s=salt,i=iterations" for the stored credential. */
  serverFirstMessage(cred: ScramCredential): string {
    this.cred = cred;
    this.serverFirst = `r=${this.nonce},s=${cred.salt},i=${cred.iterationCount}`;
    return this.serverFirst;
  }

  /** Checks client-final's proof; returns server-final ("v=signature"). */
  finish(clientFinal: string): string {
    const cred = this.cred;
    if (!cred) throw new ScramError("SCRAM conversation out of order");
    const i = clientFinal.lastIndexOf(",p=");
    if (i < 0) throw new ScramError("Invalid SCRAM client final message");
    const withoutProof = clientFinal.slice(0, i);
    const a = attrs(withoutProof);
    if (a.r !== this.nonce) throw new ScramError("Unmatched SCRAM nonce received from client");
    const proof = Buffer.from(clientFinal.slice(i + 3), "base64");
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    const storedKey = Buffer.from(cred.storedKey, "base64");
    const signature = hmac(this.mech, storedKey, authMessage);
    if (proof.length !== signature.length) throw new ScramError("Authentication failed");
    const clientKey = Buffer.alloc(proof.length);
    for (let k = 0; k < proof.length; k++) clientKey[k] = proof[k] ^ signature[k];
    if (!timingSafeEqual(hash(this.mech, clientKey), storedKey)) {
      throw new ScramError("Authentication failed");
    }
    this.done = true;
    const serverKey = Buffer.from(cred.serverKey, "base64");
    return `v=${hmac(this.mech, serverKey, authMessage).toString("base64")}`;
  }
}

/** Sends one SASL command and returns its reply; throws on `ok: 0`. */
export type SaslSend = (cmd: Record<string, unknown>) => Promise<Record<string, unknown>>;

/**
 * The client side, as drivers do it: saslStart, saslContinue with the proof, a check of the
 * server's signature (a server that does not know the password cannot forge it).
 */
export async function clientAuthenticate(
  mech: Mechanism,
  user: string,
  password: string,
  send: SaslSend,
): Promise<void> {
  const clientNonce = randomBytes(24).toString("base64");
  const first = `n=${encodeName(user)},r=${clientNonce}`;
  const r1 = await send({
    saslStart: 1,
    mechanism: mech,
    payload: Buffer.from(`n,,${first}`),
    autoAuthorize: 1,
    options: { skipEmptyExchange: true },
  });
  const serverFirst = payloadText(r1.payload);
  const a = attrs(serverFirst);
  if (!a.r?.startsWith(clientNonce)) throw new ScramError("server nonce does not extend ours");
  const salted = await saltedPassword(
    mech,
    user,
    password,
    Buffer.from(a.s, "base64"),
    Number(a.i),
  );
  const clientKey = hmac(mech, salted, "Client Key");
  const withoutProof = `c=biws,r=${a.r}`;
  const authMessage = `${first},${serverFirst},${withoutProof}`;
  const signature = hmac(mech, hash(mech, clientKey), authMessage);
  const proof = Buffer.alloc(clientKey.length);
  for (let k = 0; k < proof.length; k++) proof[k] = clientKey[k] ^ signature[k];
  const r2 = await send({
    saslContinue: 1,
    conversationId: r1.conversationId,
    payload: Buffer.from(`${withoutProof},p=${proof.toString("base64")}`),
  });
  const expected = hmac(mech, hmac(mech, salted, "Server Key"), authMessage).toString("base64");
  if (attrs(payloadText(r2.payload)).v !== expected) {
    throw new ScramError("server signature does not match");
  }
  if (!r2.done) {
    await send({ saslContinue: 1, conversationId: r1.conversationId, payload: Buffer.alloc(0) });
  }
}

/** A SASL payload (BinData or string) as text. */
export function payloadText(p: unknown): string {
  if (typeof p === "string") return p;
  const b = p as { buffer?: Uint8Array } | Uint8Array | undefined;
  const bytes = b instanceof Uint8Array ? b : b?.buffer;
  return bytes ? new TextDecoder().decode(bytes) : "";
}
