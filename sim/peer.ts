/** A minimal client the simulated servers use to talk to each other over the wire. */
import type { Document } from "bson";
import { clientAuthenticate } from "./scram.ts";
import { encodeMsg, MessageReader, newRequestId, parseMessage } from "./wire.ts";

/** Internal authentication: members log in as `__system@local` with the keyfile's key. */
export interface InternalCredentials {
  user: string;
  db: string;
  password: string;
}

export class PeerError extends Error {
  constructor(message: string, readonly code?: number, readonly codeName?: string) {
    super(message);
  }
}

/** One connection per target, requests serialised; reconnects after any failure. */
export class Peer {
  private conn?: Deno.Conn;
  private reader?: MessageReader;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    readonly address: string,
    readonly credentials?: InternalCredentials,
    /**
     * Asked at each new connection: TLS (preferTLS, requireTLS members), trusting `caCerts`
     * (PEM) or the system's CAs; undefined: plain (allowTLS, disabled).
     */
    readonly tls?: () => { caCerts?: string[] } | undefined,
  ) {}

  /**
   * Runs `cmd` on `db` once the requests before it are done. Rejects with PeerError after
   * `timeoutMs`, or as soon as `signal` aborts (the connection is closed, as a timeout does: the
   * reply it waited for would arrive on it out of turn).
   */
  command(
    db: string,
    cmd: Document,
    timeoutMs = 2000,
    signal?: AbortSignal,
  ): Promise<Document> {
    const run = this.chain.then(
      () => this.send(db, cmd, timeoutMs, signal),
      () => this.send(db, cmd, timeoutMs, signal),
    );
    this.chain = run.catch(() => {});
    return run;
  }

  private async send(
    db: string,
    cmd: Document,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<Document> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let onAbort: (() => void) | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.close();
        reject(new PeerError(`timed out after ${timeoutMs}ms talking to ${this.address}`));
      }, timeoutMs);
      if (!signal) return;
      onAbort = () => {
        this.close();
        reject(new PeerError(`request to ${this.address} abandoned`, 90, "CallbackCanceled"));
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
    });
    try {
      return await Promise.race([this.roundTrip(db, cmd), timeout]);
    } catch (e) {
      this.close();
      if (e instanceof PeerError) throw e;
      throw new PeerError(
        `Error connecting to ${this.address} :: caused by :: ${
          (e as Error).message.replace(/ \(os error \d+\)/, "")
        }`,
      );
    } finally {
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener("abort", onAbort);
    }
  }

  private async roundTrip(db: string, cmd: Document): Promise<Document> {
    if (!this.conn) {
      const i = this.address.lastIndexOf(":");
      const host = this.address.slice(0, i).replace(/^\[(.*)\]$/, "$1"); // [::1] → ::1
      const port = Number(this.address.slice(i + 1));
      const tls = this.tls?.();
      if (tls) {
        // The certificate names the host as configured (e.g. localhost), so connect by that name.
        this.conn = await Deno.connectTls({ hostname: host, port, caCerts: tls.caCerts });
      } else {
        const tcp = await Deno.connect({
          hostname: host === "localhost" ? "127.0.0.1" : host,
          port,
        });
        tcp.setNoDelay(true);
        this.conn = tcp;
      }
      this.reader = new MessageReader(this.conn);
      const cred = this.credentials;
      if (cred) {
        // As mongod does with a keyFile: SCRAM-SHA-256 as __system before any other command.
        await clientAuthenticate("SCRAM-SHA-256", cred.user, cred.password, async (c) => {
          const r = await this.exchange(cred.db, c);
          if (!r.ok) throw new PeerError(String(r.errmsg), r.code as number, r.codeName as string);
          return r;
        });
      }
    }
    return await this.exchange(db, cmd);
  }

  private async exchange(db: string, cmd: Document): Promise<Document> {
    const id = newRequestId();
    const bytes = encodeMsg({ ...cmd, $db: db }, 0, id);
    let off = 0;
    while (off < bytes.length) off += await this.conn!.write(bytes.subarray(off));
    const raw = await this.reader!.next();
    if (!raw) throw new Error("connection closed by peer");
    // Keep int64 as Long so replies forwarded by mongos keep their BSON types.
    const msg = parseMessage(raw, { promoteLongs: false });
    if (msg.kind !== "msg") throw new Error("unexpected reply opcode");
    return msg.body;
  }

  close(): void {
    try {
      this.conn?.close();
    } catch {
      // Already closed.
    }
    this.conn = undefined;
    this.reader = undefined;
  }
}

/** Peers by address, shared within a process. */
export class PeerPool {
  private readonly peers = new Map<string, Peer>();
  /** Set when the process has a keyFile: every connection authenticates first. */
  credentials?: InternalCredentials;
  /** Whether a new connection uses TLS (trusting `caCerts` when given): see Peer. */
  tls?: () => { caCerts?: string[] } | undefined;
  /**
   * The fault MUP_SIM_PARTITIONED: this member and the others cannot reach each other, as
   * across a network partition; every request to a peer fails as an unreachable host does.
   */
  partitioned = false;
  /**
   * The process's vector clock (replica-set members and mongos): every request to a peer carries
   * its `$clusterTime` and every reply's is taken, as MongoDB gossips on every internal message
   * (heartbeats, oplog fetches, votes), so the members' cluster times stay close.
   */
  clock?: { time(): Document | undefined; observe(ts: unknown): void };

  /** The connection to `address` for `channel` (bulk oplog fetching has its own). */
  get(address: string, channel = "main"): Peer {
    const key = `${channel}|${address}`;
    let p = this.peers.get(key);
    if (!p) this.peers.set(key, p = new Peer(address, this.credentials, () => this.tls?.()));
    return p;
  }

  /**
   * Runs a command and throws PeerError for `ok: 0` replies, on a timeout, or when `signal`
   * aborts (see Peer.command).
   */
  async run(
    address: string,
    db: string,
    cmd: Document,
    timeoutMs?: number,
    channel = "main",
    signal?: AbortSignal,
  ): Promise<Document> {
    if (this.partitioned) {
      throw new PeerError(
        `Error connecting to ${address} :: caused by :: No route to host (simulated network partition)`,
        6,
        "HostUnreachable",
      );
    }
    const time = cmd.$clusterTime === undefined ? this.clock?.time() : undefined;
    const body = time ? { ...cmd, $clusterTime: time } : cmd;
    const r = await this.get(address, channel).command(db, body, timeoutMs, signal);
    this.clock?.observe(r.$clusterTime?.clusterTime);
    if (!r.ok) {
      throw new PeerError(
        String(r.errmsg ?? "command failed"),
        r.code as number,
        r.codeName as string,
      );
    }
    return r;
  }

  closeAll(): void {
    for (const p of this.peers.values()) p.close();
  }
}
