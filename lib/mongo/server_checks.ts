/**
 * Quick answers about a server before or beside a driver question: whether it speaks TLS with a
 * certificate the cluster's CA signed, whether the driver's first check of it failed (a stopped
 * server is known at once), whether a kept client's server still answers. lib/mongo/client.ts's
 * MongoAccess uses them; they hold no state.
 */
import type { MongoClient } from "mongodb";

/** Said in a failure whose TLS handshake with the cluster's CA failed. */
export const TLS_UNTRUSTED = "a TLS handshake trusting the cluster CA failed";

/**
 * A server that speaks TLS with a certificate the cluster's CA did not sign: no wait or
 * restart mends it (display says so, rather than "hung or busy").
 */
export class TlsUntrustedError extends Error {
  override name = "TlsUntrustedError";
  /** @param handshake why the handshake trusting the CA failed ("invalid peer certificate…"). */
  constructor(message: string, readonly handshake: string) {
    super(message);
  }
}

/**
 * Whether `host:port` completes a TLS handshake with a certificate the CA in `caFile` signed,
 * within `timeoutMs`. A server without TLS closes the connection at the handshake (mongod: "SSL
 * handshake received but server is started without SSL support"), which answers `tls: false`
 * at once; a certificate the CA did not sign (or that names another host) also answers false,
 * with the reason in `refused`, so that the plain attempt's failure can say it.
 */
export async function speaksTls(
  host: string,
  port: number,
  caFile: string,
  timeoutMs: number,
): Promise<{ tls: boolean; refused?: string }> {
  const caCerts = [await Deno.readTextFile(caFile)];
  const hostname = host.replace(/^\[(.*)\]$/, "$1");
  let timer: ReturnType<typeof setTimeout> | undefined;
  const attempt = (async () => {
    const conn = await Deno.connectTls({ hostname, port, caCerts });
    try {
      await conn.handshake();
      return { tls: true };
    } finally {
      conn.close();
    }
  })().catch((e) => {
    const msg = (e as Error).message;
    return /certificate|issuer|NotValidForName|expired/i.test(msg)
      ? { tls: false, refused: msg }
      : { tls: false };
  });
  const late = new Promise<{ tls: boolean }>((r) =>
    timer = setTimeout(() => r({ tls: false }), timeoutMs)
  );
  try {
    return await Promise.race([attempt, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Rejects as soon as the driver's first check of the server fails with anything but a timeout
 * (connection refused, host unreachable, a failed TLS handshake): such a failure is immediate
 * and final, so waiting out serverSelectionTimeoutMS for it would only make every question to
 * a stopped server as slow as the slowest allowed answer. A server that accepts but answers
 * late (a loaded machine) still gets the whole timeout. A failure after a successful check (a
 * server restarting meanwhile) is left to the driver, as before. Driver events: SDAM
 * monitoring, `serverHeartbeatSucceeded` / `serverHeartbeatFailed`.
 */
export function failsFirstCheck(c: MongoClient): { promise: Promise<never>; stop: () => void } {
  let reject!: (e: Error) => void;
  const promise = new Promise<never>((_, r) => reject = r);
  promise.catch(() => {});
  let checked = false;
  const ok = () => checked = true;
  const failed = (ev: { failure: Error }) => {
    if (!checked && ev.failure?.name !== "MongoNetworkTimeoutError") reject(ev.failure);
  };
  c.on("serverHeartbeatSucceeded", ok);
  c.on("serverHeartbeatFailed", failed);
  return {
    promise,
    stop: () => {
      c.off("serverHeartbeatSucceeded", ok);
      c.off("serverHeartbeatFailed", failed);
    },
  };
}

/**
 * Whether a kept client's server answers a ping within `timeoutMs`: false as soon as the
 * driver's check of it fails (stopped, restarted: failsFirstCheck's events) or its connection
 * was closed.
 */
export async function answers(c: MongoClient, timeoutMs: number): Promise<boolean> {
  let failed!: (e: Error) => void;
  const down = new Promise<never>((_, r) => failed = r);
  const onFail = (ev: { failure: Error }) => failed(ev.failure);
  c.on("serverHeartbeatFailed", onFail);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, r) =>
    timer = setTimeout(() => r(new Error("no answer")), timeoutMs)
  );
  try {
    await Promise.race([c.db("admin").command({ ping: 1 }), down, late]);
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
    c.off("serverHeartbeatFailed", onFail);
  }
}
