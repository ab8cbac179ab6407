/**
 * The one way mup talks to a cluster's servers. A MongoAccess carries the cluster's security
 * (credentials, TLS CA, the way to the localhost exception) so that no operation handles
 * credentials itself: every operation, probe and check asks its cluster's MongoAccess
 * (lib/security/access.ts makes it) and gets authenticated, TLS connections when the cluster
 * has them.
 */
import type { Document, MongoClient, MongoClientOptions } from "mongodb";
import { hostPort, splitHostPort } from "../topology/hosts.ts";
import { sleep } from "../util/timer.ts";
import {
  answers,
  failsFirstCheck,
  speaksTls,
  TLS_UNTRUSTED,
  TlsUntrustedError,
} from "./server_checks.ts";

export { sleep } from "../util/timer.ts";
export { splitHostPort };
export { failsFirstCheck, TlsUntrustedError };

/** A user and password (SCRAM, defined on `admin`). Never printed, never in a URI. */
export interface Credentials {
  user: string;
  password: string;
}

/** What a MongoAccess needs to know of its cluster's security. */
export interface ClientSecurity {
  /**
   * The credentials, read when first needed; undefined while they do not exist yet (then the
   * localhost exception is used, as before the first user).
   */
  credentials?: () => Promise<Credentials | undefined>;
  /**
   * PEM file of the CA that signed the servers' certificates, when the cluster has one: a server
   * that completes a TLS handshake trusting it (tlsMode allowTLS, preferTLS, requireTLS) is
   * reached over TLS, any other (disabled) in plain, so that mup reaches every member while a
   * rolling `cluster tls` change leaves them in different modes.
   */
  caFile?: () => Promise<string | undefined>;
  /**
   * An address that reaches `host:port` from the host's own loopback interface (a port forward
   * for a remote host), for the localhost exception. Without it the server is reached directly.
   */
  loopback?: (host: string, port: number) => Promise<{ host: string; port: number }>;
}

/** The error code of a driver error (AuthenticationFailed is 18, Unauthorized 13). */
function codeOf(e: unknown): number | undefined {
  return (e as { code?: number })?.code;
}

/**
 * How long a server that accepted the connection has to answer one question, in milliseconds.
 * Generous, because only a live server uses it: a stopped one is known at the driver's first
 * check (failsFirstCheck), and a loaded machine must not make mup take a slow server for a
 * dead one.
 */
export const ANSWER_TIMEOUT_MS = 10_000;

/**
 * Clients kept between questions once reuse is on (reuseClients), by server, timeout,
 * credentials and CA. A fresh client costs this machine ~7 ms of CPU on loopback (the driver's
 * machinery, hello on two connections), ~10 ms with a SCRAM login, plus the server's share, and
 * over SSH or TLS several round trips: a poll or a display of many processes paid that for
 * every question. Off (library use, tests that run operations in-process): every question
 * opens and closes its own client.
 */
let reused: Map<string, MongoClient> | undefined;

/** Keeps clients between questions until closeReusedClients (the CLI, for one invocation). */
export function reuseClients(): void {
  reused ??= new Map();
}

/** Closes every kept client and turns reuse off; call before the process ends. */
export async function closeReusedClients(): Promise<void> {
  const all = reused;
  reused = undefined;
  await Promise.all([...all?.values() ?? []].map((c) => c.close().catch(() => {})));
}

function forget(key: string, c: MongoClient): void {
  reused?.delete(key);
  c.close().catch(() => {});
}

/** Connections to the servers of one cluster. */
export class MongoAccess {
  constructor(readonly security: ClientSecurity = {}) {}

  /** False: every question on a client of its own (fresh()). */
  private reuse = true;

  /**
   * This access with a new client for every question, none kept: what a new client of the
   * cluster meets. A health check asks so: a connection kept from before a change (a switch to
   * requireTLS at runtime leaves open plain connections be) would answer where no new one can.
   */
  fresh(): MongoAccess {
    const m = new MongoAccess(this.security);
    m.reuse = false;
    return m;
  }

  /** Whether this cluster has access control (its servers want credentials). */
  get authenticates(): boolean {
    return this.security.credentials !== undefined;
  }

  private async open<T>(
    host: string,
    port: number,
    fn: (c: MongoClient) => Promise<T>,
    timeoutMs: number,
    credentials: Credentials | undefined,
  ): Promise<T> {
    const ca = await this.security.caFile?.();
    const key = this.reuse && reused
      ? [hostPort(host, port), timeoutMs, credentials?.user, credentials?.password, ca].join("\0")
      : undefined;
    const kept = key ? reused!.get(key) : undefined;
    if (kept) {
      // A server restarted or stopped since the client was made leaves it a dead connection:
      // asked once more on a fresh client, so that `fn` itself is sent exactly once.
      if (await answers(kept, timeoutMs)) return await fn(kept);
      forget(key!, kept);
    }
    // Loaded on first use: commands that never reach a server start ~90 ms faster and ~27 MB
    // smaller without the driver.
    const { MongoClient } = await import("mongodb");
    const opts: MongoClientOptions = {
      serverSelectionTimeoutMS: timeoutMs,
      connectTimeoutMS: timeoutMs,
      socketTimeoutMS: Math.max(timeoutMs, 30_000),
    };
    // Credentials go in the options, never in the URI, so no error message can quote them.
    if (credentials) {
      opts.auth = { username: credentials.user, password: credentials.password };
      opts.authSource = "admin";
    }
    const probe = ca ? await speaksTls(host, port, ca, timeoutMs) : { tls: false };
    if (probe.tls) {
      opts.tls = true;
      opts.tlsCAFile = ca;
    }
    const c = new MongoClient(`mongodb://${hostPort(host, port)}/?directConnection=true`, opts);
    const refusal = failsFirstCheck(c);
    let keep = false;
    try {
      // Connecting authenticates: a refused login (18) surfaces here, not inside `fn` (which
      // may be a poll that would take it for a server not ready yet).
      const work = (async () => {
        if (credentials) await c.connect();
        return await fn(c);
      })();
      work.catch(() => {}); // when the refusal wins, the client's close ends `work` too
      const out = await Promise.race([work, refusal.promise]);
      // Kept only once it has answered: a client that failed in any way is closed.
      if (key && !reused!.has(key)) {
        reused!.set(key, c);
        keep = true;
      }
      return out;
    } catch (e) {
      // Plain was tried because the TLS handshake failed: a network error then says why.
      if (probe.refused && codeOf(e) === undefined) {
        throw new TlsUntrustedError(
          `${(e as Error).message} (${TLS_UNTRUSTED}: ${probe.refused})`,
          probe.refused,
        );
      }
      throw e;
    } finally {
      refusal.stop();
      if (!keep) await c.close().catch(() => {});
    }
  }

  /**
   * Runs `fn` with a direct connection to one server; the client is always closed. With
   * `auth: false` no credentials are sent (hello needs none). In a cluster with access control:
   * authenticated with the cluster's credentials; while they do not authenticate yet (no user
   * exists: AuthenticationFailed, code 18) or do not exist yet, through the localhost exception
   * (MongoDB docs: "Localhost Exception"), over the host's loopback interface.
   */
  async withServer<T>(
    host: string,
    port: number,
    fn: (c: MongoClient) => Promise<T>,
    timeoutMs = ANSWER_TIMEOUT_MS,
    options: { auth?: boolean } = {},
  ): Promise<T> {
    const sec = this.security;
    if (options.auth === false || !sec.credentials) {
      return await this.open(host, port, fn, timeoutMs, undefined);
    }
    const cred = await sec.credentials();
    let authError: unknown;
    if (cred) {
      try {
        return await this.open(host, port, fn, timeoutMs, cred);
      } catch (e) {
        if (codeOf(e) !== 18) throw e;
        authError = e;
      }
    }
    const lb = sec.loopback ? await sec.loopback(host, port) : { host, port };
    try {
      return await this.open(lb.host, lb.port, fn, timeoutMs, undefined);
    } catch (e) {
      // The exception is over (a user exists) and ours did not authenticate: say that.
      if (authError && codeOf(e) === 13) throw authError;
      throw e;
    }
  }

  /**
   * Whether the cluster's credentials authenticate on this server (false before the user, and
   * false on an arbiter). A command that answers is not proof: the driver does not log in to a
   * server whose hello says `arbiterOnly` (an arbiter holds no users; the driver's handshake,
   * cmap/connect), and `ping` needs no login. So the server is asked whom the connection is
   * logged in as (`connectionStatus`'s `authInfo.authenticatedUsers`, MongoDB docs).
   * Throws what the driver throws when the server does not answer.
   */
  async credentialsWork(
    host: string,
    port: number,
    timeoutMs = ANSWER_TIMEOUT_MS,
  ): Promise<boolean> {
    const cred = await this.security.credentials?.();
    if (!cred) return false;
    try {
      const status = await this.open(
        host,
        port,
        (c) => c.db("admin").command({ connectionStatus: 1 }),
        timeoutMs,
        cred,
      );
      const users = (status.authInfo?.authenticatedUsers ?? []) as { user?: string; db?: string }[];
      return users.some((u) => u.user === cred.user && u.db === "admin");
    } catch (e) {
      if (codeOf(e) === 18) return false;
      throw e;
    }
  }

  /**
   * Runs `fn` unauthenticated over the host's loopback interface: the localhost exception, as
   * the first user is created (MongoDB docs: "Create the user administrator").
   */
  viaLocalhost<T>(
    host: string,
    port: number,
    fn: (c: MongoClient) => Promise<T>,
    timeoutMs = 10_000,
  ): Promise<T> {
    return (async () => {
      const lb = this.security.loopback ? await this.security.loopback(host, port) : { host, port };
      return await this.open(lb.host, lb.port, fn, timeoutMs, undefined);
    })();
  }

  adminCommand(host: string, port: number, cmd: Document, timeoutMs?: number): Promise<Document> {
    return this.withServer(host, port, (c) => c.db("admin").command(cmd), timeoutMs);
  }

  /** hello (no credentials needed), or undefined when nothing answers. */
  async hello(
    host: string,
    port: number,
    timeoutMs = ANSWER_TIMEOUT_MS,
  ): Promise<Document | undefined> {
    try {
      return await this.withServer(
        host,
        port,
        (c) => c.db("admin").command({ hello: 1 }),
        timeoutMs,
        {
          auth: false,
        },
      );
    } catch {
      return undefined;
    }
  }

  /**
   * `hello` as hello() asks it, but a server that speaks TLS with a certificate the cluster's
   * CA did not sign is told apart from one that does not answer (yet): `{ untrusted }` carries
   * the handshake's failure. No wait mends that.
   */
  async helloOrUntrusted(
    host: string,
    port: number,
    timeoutMs = ANSWER_TIMEOUT_MS,
  ): Promise<{ hello?: Document; untrusted?: string }> {
    try {
      const hello = await this.withServer(
        host,
        port,
        (c) => c.db("admin").command({ hello: 1 }),
        timeoutMs,
        { auth: false },
      );
      return { hello };
    } catch (e) {
      return e instanceof TlsUntrustedError ? { untrusted: e.handshake } : {};
    }
  }

  /** Which of these processes do not answer hello now (asked all at once), by ID. */
  async unanswered(
    procs: readonly { id: string; host: string; port: number }[],
  ): Promise<Set<string>> {
    const answers = await Promise.all(procs.map((p) => this.hello(p.host, p.port)));
    return new Set(procs.filter((_, i) => !answers[i]).map((p) => p.id));
  }
}

/** Polls `probe` until it returns a value or the time is up. */
export async function poll<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  everyMs = 200,
  signal?: AbortSignal,
): Promise<T | undefined> {
  const end = Date.now() + timeoutMs;
  while (true) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() >= end || signal?.aborted) return undefined;
    await sleep(everyMs, signal);
  }
}
