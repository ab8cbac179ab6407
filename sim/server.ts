/** The simulated server process: listeners, connections (command dispatch: dispatch.ts). */
import { Binary, type Document, Long, ObjectId, Timestamp } from "bson";
import { CURSOR_MONITOR_MS, CursorTable } from "./cursors.ts";
import type { Auth, ConnAuth } from "./auth.ts";
import type { Log } from "./log.ts";
import type { ShardVersions } from "./shard_version.ts";
import { admit, TlsLayer, type TlsSettings } from "./tls.ts";
import type { ServerOptions } from "./options.ts";
import { PeerPool } from "./peer.ts";
import { dispatch } from "./dispatch.ts";
import type { DataStore } from "./store.ts";
import { ServerCounters } from "./server_status.ts";
import { TopologyVersion } from "./topology_version.ts";
import { QuiescePeriod } from "./quiesce.ts";
import { isOwnAddress, ownAddress } from "./self_address.ts";
import {
  encodeMsg,
  encodeReply,
  encodeReplyMsg,
  FLAG_EXHAUST_ALLOWED,
  FLAG_MORE_TO_COME,
  MessageReader,
  newRequestId,
  parseMessage,
} from "./wire.ts";

function isStreamingHello(flags: number, body: Document): boolean {
  const name = Object.keys(body)[0];
  return (flags & FLAG_EXHAUST_ALLOWED) !== 0 &&
    (name === "hello" || name === "isMaster" || name === "ismaster") &&
    body.topologyVersion !== undefined && body.maxAwaitTimeMS !== undefined;
}

export interface ConnState {
  id: number;
  remote: string;
  /** Users authenticated on this connection (access control, sim/auth.ts). */
  auth?: ConnAuth;
  /**
   * What the connection's handshake said of its client (hello's `client` document, which
   * drivers and shells send and the simulator's own connections to its peers do not): its
   * application name, if any. Unset: no client introduced itself (an internal connection).
   */
  client?: { appName?: string };
}

export interface CommandContext {
  server: Server;
  db: string;
  body: Document;
  conn: ConnState;
  /** Set by a majority read: the optime of the snapshot its documents come from. */
  readAt?: Timestamp;
}

export type Handler = (ctx: CommandContext) => Document | Promise<Document>;

/** Roles plug their behaviour in here: replication for mongod, routing for mongos. */
export interface RoleHooks {
  helloFields(): Document;
  /** While writes are held back (a primary's step-down), a promise that resolves when they may go. */
  writeHold?(): Promise<void> | undefined;
  /** Throws NotWritablePrimary etc. when this node must not take writes. */
  checkWritable(db: string): void;
  checkReadable(body: Document): void;
  /** Logs an applied change in the oplog (replica sets); returns its optime. */
  logOp?(entry: Document): Timestamp | undefined;
  /** The optime of the last change this member applied. */
  lastOpTime?(): Timestamp | undefined;
  /** Waits for a write's concern; resolves to a writeConcernError document or undefined. */
  awaitWriteConcern?(
    wc: Document | undefined,
    ts: Timestamp | undefined,
  ): Promise<Document | undefined>;
  /** Waits until what this member applied is majority-committed (readConcern majority). */
  waitForMajorityRead?(timeoutMs: number): Promise<void>;
  /** readConcern linearizable: a no-op a majority must have before the read answers. */
  confirmLinearizable?(timeoutMs: number): Promise<void>;
  /** The optime of the majority-committed snapshot (readConcern majority), if one exists. */
  majoritySnapshot?(): Timestamp | undefined;
  /**
   * Waits until this member has applied `ts` (readConcern.afterClusterTime), or, `majority`,
   * until its majority-committed snapshot holds it.
   */
  waitForOpTime?(ts: Timestamp, timeoutMs: number, majority?: boolean): Promise<void>;
  /** A primary behind a time a read asks for writes a no-op to reach it (replset.ts). */
  advanceTo?(ts: Timestamp): void;
  /** Makes this member's next optime later than `ts`, a cluster time gossiped to it. */
  advanceClock?(ts: Timestamp): void;
  /** readConcern linearizable: throws NotWritablePrimary unless this member is the primary. */
  checkLinearizable?(): void;
  /** A find's `term` (an oplog fetcher's): a newer one is taken, and the find refused. */
  updateTerm?(term: number): void;
  stop(): Promise<void>;
  /** shutdown command: a primary steps down first. */
  beforeShutdown?(force: boolean, timeoutSecs: number): Promise<void>;
}

/** mongos's link to the cluster, for commands that fan out. */
export interface Router {
  broadcastFcv(version: string, confirm: unknown): Promise<void>;
  /** Runs a command on the config server primary, its error passed on. */
  config(db: string, cmd: Document): Promise<Document>;
}

/** A `$clusterTime` signature: unsigned, as no keyFile signing is simulated. */
export const UNSIGNED = { hash: new Binary(new Uint8Array(20)), keyId: Long.ZERO };

export class Server {
  readonly startedAt = Date.now();
  readonly peers = new PeerPool();
  readonly commands = new Map<string, Handler>();
  readonly cursors = new CursorTable();
  private cursorMonitor?: ReturnType<typeof setInterval>;
  readonly processId = new ObjectId();
  /** Fail points a test configured (configureFailPoint, with enableTestCommands): name → data. */
  readonly failPoints = new Map<string, Document>();
  role?: RoleHooks;
  router?: Router;
  /** Access control; enforces only when the options enable it. */
  auth?: Auth;
  /**
   * TLS (sim/tls.ts): started with requireTLS, the listeners speak only TLS; with allowTLS or
   * preferTLS they take both, TLS through `tlsLayer`. Undefined: tlsMode disabled.
   */
  tls?: TlsSettings;
  private tlsLayer?: TlsLayer;
  /** A mongod's shard versioning: which routers' tables it accepts (sim/shard_version.ts). */
  shardVersions?: ShardVersions;
  shuttingDown = false;
  private listeners: Deno.Listener[] = [];
  readonly conns = new Set<Deno.Conn>();
  /** Connections accepted since start (serverStatus.connections.totalCreated). */
  totalConns = 0;
  /** serverStatus's opcounters, opcountersRepl and network (sim/server_status.ts). */
  readonly counters = new ServerCounters();
  private nextConnId = 1;
  private readonly topology = new TopologyVersion(this.processId);
  /** A mongos's quiesce period at its shutdown (quiesce.ts). */
  readonly quiesce: QuiescePeriod;

  constructor(readonly opts: ServerOptions, readonly log: Log, readonly store: DataStore) {
    this.quiesce = new QuiescePeriod(this.topology, log);
    this.peers.clock = {
      time: () => this.clusterTimeFields().$clusterTime,
      observe: (ts) => this.observeClusterTime(ts),
    };
  }

  register(handlers: Record<string, Handler>): void {
    for (const [k, v] of Object.entries(handlers)) this.commands.set(k, v);
  }

  /** Binds every bindIp address; throws Deno.errors.AddrInUse like mongod's listener. */
  listen(): number {
    let port = this.opts.port;
    const tlsOnly = this.tls?.mode === "requireTLS";
    if (this.tls && !tlsOnly) {
      this.tlsLayer = new TlsLayer(this.tls, (c, remote) => this.handleConn(c, remote));
      this.tlsLayer.start();
    }
    for (const ip of this.opts.bindIp) {
      const hostname = ip === "localhost" ? "127.0.0.1" : ip;
      const l = tlsOnly
        ? Deno.listenTls({ hostname, port, cert: this.tls!.cert, key: this.tls!.key })
        : Deno.listen({ hostname, port });
      port = (l.addr as Deno.NetAddr).port;
      this.listeners.push(l);
    }
    this.opts.port = port;
    for (const l of this.listeners) this.acceptLoop(l, tlsOnly);
    const timeout = Number(
      (this.opts.parsed.setParameter as Record<string, unknown> | undefined)?.cursorTimeoutMillis,
    );
    if (Number.isFinite(timeout) && timeout > 0) this.cursors.timeoutMs = timeout;
    this.cursorMonitor = setInterval(() => this.cursors.sweep(), CURSOR_MONITOR_MS);
    return port;
  }

  /** `tlsOnly`: a requireTLS listener (Deno.listenTls), whose connections are all TLS. */
  private async acceptLoop(l: Deno.Listener, tlsOnly: boolean): Promise<void> {
    try {
      for await (const conn of l) {
        if (this.shuttingDown) {
          conn.close();
          continue;
        }
        (conn as Deno.TcpConn).setNoDelay?.(true);
        const addr = conn.remoteAddr as Deno.NetAddr;
        const remote = `${addr.hostname}:${addr.port}`;
        if (tlsOnly) this.handleConn(conn, remote);
        else this.sortConn(conn, remote);
      }
    } catch {
      // Listener closed at shutdown.
    }
  }

  /** A connection to a port that is not TLS-only: sorted by sim/tls.ts admit. */
  private async sortConn(conn: Deno.Conn, remote: string): Promise<void> {
    const first = await admit(
      conn,
      remote,
      this.tlsLayer,
      this.tls?.mode,
      (msg) => this.log.info("NETWORK", 22988, "listener", msg, { remote }),
    );
    if (first) await this.handleConn(conn, remote, first);
  }

  private async handleConn(conn: Deno.Conn, remote: string, first?: Uint8Array): Promise<void> {
    this.conns.add(conn);
    this.totalConns++;
    const state: ConnState = { id: this.nextConnId++, remote };
    const reader = new MessageReader(conn, undefined, first);
    try {
      while (true) {
        const raw = await reader.next();
        if (!raw) break;
        const msg = parseMessage(raw);
        let reply: Uint8Array | undefined;
        if (msg.kind === "msg") {
          const db = String(msg.body.$db ?? "admin");
          const res = await this.runCommand(db, msg.body, state);
          if (res === null) break; // shutdown: the socket just closes
          if (isStreamingHello(msg.flags, msg.body) && res.ok === 1) {
            await this.streamHello(conn, db, msg.body, res, msg.header.requestId, state);
            break;
          }
          if (!(msg.flags & FLAG_MORE_TO_COME)) reply = encodeReplyMsg(res, msg.header.requestId);
        } else if (msg.kind === "query") {
          const name = Object.keys(msg.query)[0] ?? "";
          const isHello = msg.collection.endsWith(".$cmd") &&
            ["hello", "isMaster", "ismaster"].includes(name);
          const res = isHello
            ? await this.runCommand(msg.collection.split(".")[0], msg.query, state)
            : {
              ok: 0,
              errmsg:
                `Unsupported OP_QUERY command: ${name}. The client driver may require an upgrade. For more details see https://dochub.mongodb.org/core/legacy-opcode-removal`,
              code: 352,
              codeName: "UnsupportedOpQueryCommand",
            };
          if (res === null) break;
          reply = encodeReply(res, msg.header.requestId);
        } else {
          this.log.info(
            "NETWORK",
            22988,
            "conn" + state.id,
            "Unsupported opcode, closing connection",
            { opCode: msg.header.opCode },
          );
          break;
        }
        this.counters.message(raw.length, reply?.length ?? 0);
        if (reply) {
          let off = 0;
          while (off < reply.length) off += await conn.write(reply.subarray(off));
        }
      }
    } catch {
      // Peer went away or sent garbage: close, as mongod does.
    } finally {
      this.conns.delete(conn);
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
  }

  /**
   * The streaming hello of MongoDB 4.4+ (exhaustAllowed): every answer is flagged moreToCome and
   * the next follows when the topology changes or maxAwaitTimeMS passes, until the client
   * closes the connection.
   */
  private async streamHello(
    conn: Deno.Conn,
    db: string,
    body: Document,
    first: Document,
    requestId: number,
    state: ConnState,
  ): Promise<void> {
    let res: Document | null = first;
    let responseTo = requestId;
    while (res) {
      const more = res.ok === 1 && !this.shuttingDown;
      const id = newRequestId();
      const bytes = encodeMsg(res, responseTo, id, more ? FLAG_MORE_TO_COME : 0);
      let off = 0;
      while (off < bytes.length) off += await conn.write(bytes.subarray(off));
      if (!more) return;
      responseTo = id;
      res = await this.runCommand(db, { ...body, topologyVersion: res.topologyVersion }, state);
    }
  }

  /** Runs one command; null means "close the connection without a reply" (shutdown). */
  runCommand(db: string, body: Document, conn: ConnState): Promise<Document | null> {
    return dispatch(this, db, body, conn);
  }

  /** hello's topologyVersion: this process, and a counter bumped whenever hello's answer changes. */
  topologyVersion(): Document {
    return this.topology.current();
  }

  /** Re-reads the role's hello fields; a change bumps the counter and answers waiting hellos. */
  noteTopology(): void {
    const { lastWrite: _w, ...fields } = this.role?.helloFields() ?? {};
    this.topology.note(fields);
  }

  /**
   * Awaitable hello (MongoDB 4.4+): when the client's topologyVersion is current, waits until
   * the topology changes or `maxAwaitTimeMS` passes.
   */
  awaitTopologyChange(clientVersion: Document | undefined, maxAwaitMs: number): Promise<void> {
    return this.topology.awaitChange(clientVersion, maxAwaitMs);
  }

  /**
   * The newest cluster time gossiped to this server (`$clusterTime` of a request, or of a reply
   * it got), MongoDB's vector clock: a mongos reports it, so its time is never behind a write it
   * acknowledged; a member also moves its oplog clock past it, so its later writes are later.
   */
  clusterTime?: Timestamp;

  /** Takes a gossiped cluster time (see `clusterTime`). */
  observeClusterTime(ts: unknown): void {
    if (!(ts instanceof Timestamp)) return;
    if (this.clusterTime && this.clusterTime.compare(ts) >= 0) return;
    this.clusterTime = ts;
    this.role?.advanceClock?.(ts);
  }

  /**
   * `$clusterTime` and `operationTime`, which replica-set members and mongos add to every reply
   * (unsigned: no keyFile authentication here).
   */
  clusterTimeFields(): Document {
    if (!this.opts.replSet && this.opts.role !== "mongos") return {};
    const own = this.role?.lastOpTime?.();
    const seen = this.clusterTime;
    const ts = own && seen ? (own.compare(seen) >= 0 ? own : seen) : own ?? seen ??
      new Timestamp({ t: Math.floor(Date.now() / 1000), i: 1 });
    return {
      $clusterTime: {
        clusterTime: ts,
        signature: UNSIGNED,
      },
      // A member's operation time is its own (what it applied), never a time gossiped to it
      // that its data has not reached: a causal read after it would wait for it.
      operationTime: own ?? ts,
    };
  }

  /** A cursor's first reply (CursorTable.open). */
  newCursor(...args: Parameters<CursorTable["open"]>): Document {
    return this.cursors.open(...args);
  }

  address(): string {
    return ownAddress(this.opts);
  }

  /** Addresses that refer to this process, for matching replica-set member entries. */
  isSelf(hostPort: string): boolean {
    return isOwnAddress(this.opts, hostPort);
  }

  async shutdown(code = 0): Promise<never> {
    if (!this.shuttingDown) {
      this.shuttingDown = true;
      clearInterval(this.cursorMonitor);
      this.topology.wakeAll();
      this.log.info("CONTROL", 4784900, "main", "Shutting down");
      await this.role?.stop().catch(() => {});
      this.tlsLayer?.close();
      for (const l of this.listeners) {
        try {
          l.close();
        } catch {
          // Already closed.
        }
      }
      for (const c of this.conns) {
        try {
          c.close();
        } catch {
          // Already closed.
        }
      }
      this.peers.closeAll();
      this.store.close();
      // Like mongod: a clean shutdown empties the dbPath's lock file (a crash leaves the pid).
      if (this.opts.role === "mongod" && this.opts.dbpath) {
        try {
          Deno.writeTextFileSync(`${this.opts.dbpath}/mongod.lock`, "");
        } catch {
          // The directory is gone: nothing to release.
        }
      }
      this.log.info("CONTROL", 20565, "main", "Now exiting");
      this.log.info("CONTROL", 23138, "main", "Shutting down", { exitCode: code });
    }
    Deno.exit(code);
  }
}
