/** The simulated server process: listeners, connections, command dispatch. */
import { type Document, Long, ObjectId } from "bson";
import { errors } from "./errors.ts";
import type { Log } from "./log.ts";
import type { ServerOptions } from "./options.ts";
import { PeerPool } from "./peer.ts";
import type { DataStore } from "./store.ts";
import { encodeMsg, encodeReply, FLAG_MORE_TO_COME, MessageReader, parseMessage } from "./wire.ts";

export interface ConnState {
  id: number;
  remote: string;
}

export interface CommandContext {
  server: Server;
  db: string;
  body: Document;
  conn: ConnState;
}

export type Handler = (ctx: CommandContext) => Document | Promise<Document>;

/** Roles plug their behaviour in here: replication for mongod, routing for mongos. */
export interface RoleHooks {
  helloFields(): Document;
  /** Throws NotWritablePrimary etc. when this node must not take writes. */
  checkWritable(db: string): void;
  checkReadable(body: Document): void;
  /** After a local write: replicate it (oplog) and honour the write concern. */
  afterWrite(entries: Document[], writeConcern?: Document): Promise<void>;
  stop(): Promise<void>;
  /** shutdown command: a primary steps down first. */
  beforeShutdown?(force: boolean, timeoutSecs: number): Promise<void>;
}

/** mongos's link to the cluster, for commands that fan out. */
export interface Router {
  broadcastFcv(version: string): Promise<void>;
}

const RETRYABLE_WRITE_CODES = new Set([
  6,
  7,
  89,
  91,
  189,
  262,
  9001,
  10107,
  11600,
  11602,
  13435,
  13436,
]);

const ALIASES: Record<string, string> = {
  ismaster: "hello",
  isMaster: "hello",
  buildinfo: "buildInfo",
};

const WIRE: [string, number][] = [
  ["8.2", 27],
  ["8.0", 25],
  ["7.3", 24],
  ["7.2", 23],
  ["7.1", 22],
  ["7.0", 21],
  ["6.2", 19],
  ["6.1", 18],
  ["6.0", 17],
  ["5.0", 13],
  ["4.4", 9],
];

export function maxWireVersion(version: string): number {
  const mm = version.split(".").slice(0, 2).join(".");
  return WIRE.find(([v]) => v === mm)?.[1] ?? WIRE.find(([v]) => Number(v) <= Number(mm))?.[1] ??
    17;
}

export class Server {
  readonly startedAt = Date.now();
  readonly peers = new PeerPool();
  readonly commands = new Map<string, Handler>();
  readonly cursors = new Map<string, { ns: string; docs: Document[]; pos: number }>();
  readonly processId = new ObjectId();
  role?: RoleHooks;
  router?: Router;
  shuttingDown = false;
  private listeners: Deno.Listener[] = [];
  private conns = new Set<Deno.Conn>();
  private nextConnId = 1;
  private nextCursor = 1000n;

  constructor(readonly opts: ServerOptions, readonly log: Log, readonly store: DataStore) {}

  register(handlers: Record<string, Handler>): void {
    for (const [k, v] of Object.entries(handlers)) this.commands.set(k, v);
  }

  /** Binds every bindIp address; throws Deno.errors.AddrInUse like mongod's listener. */
  listen(): number {
    let port = this.opts.port;
    for (const ip of this.opts.bindIp) {
      const hostname = ip === "localhost" ? "127.0.0.1" : ip;
      const l = Deno.listen({ hostname, port });
      port = (l.addr as Deno.NetAddr).port;
      this.listeners.push(l);
    }
    this.opts.port = port;
    for (const l of this.listeners) this.acceptLoop(l);
    return port;
  }

  private async acceptLoop(l: Deno.Listener): Promise<void> {
    try {
      for await (const conn of l) {
        if (this.shuttingDown) {
          conn.close();
          continue;
        }
        this.handleConn(conn as Deno.TcpConn);
      }
    } catch {
      // Listener closed at shutdown.
    }
  }

  private async handleConn(conn: Deno.TcpConn): Promise<void> {
    conn.setNoDelay(true);
    this.conns.add(conn);
    const addr = conn.remoteAddr as Deno.NetAddr;
    const state: ConnState = { id: this.nextConnId++, remote: `${addr.hostname}:${addr.port}` };
    const reader = new MessageReader(conn);
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
          if (!(msg.flags & FLAG_MORE_TO_COME)) reply = encodeMsg(res, msg.header.requestId);
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

  /** Runs one command; null means "close the connection without a reply" (shutdown). */
  async runCommand(db: string, body: Document, conn: ConnState): Promise<Document | null> {
    const first = Object.keys(body)[0] ?? "";
    const name = ALIASES[first] ?? first;
    const handler = this.commands.get(name);
    try {
      if (!handler) throw errors.commandNotFound(first);
      const res = await handler({ server: this, db, body, conn });
      if (res.__closeConnection) return null;
      return { ...res, ok: res.ok ?? 1 };
    } catch (e) {
      const err = e as Error & { code?: number; codeName?: string };
      const code = err.code ?? 8000;
      // 4.4+ servers label retryable write errors themselves; drivers retry only with the label.
      const labels = body.txnNumber !== undefined && RETRYABLE_WRITE_CODES.has(code)
        ? { errorLabels: ["RetryableWriteError"] }
        : {};
      return {
        ok: 0,
        errmsg: err.message,
        code,
        codeName: err.codeName ?? "UnknownError",
        ...labels,
      };
    }
  }

  newCursor(
    ns: string,
    docs: Document[],
    batchSize: number,
    first: "firstBatch" | "nextBatch" = "firstBatch",
  ): Document {
    const batch = docs.slice(0, batchSize);
    let id = Long.ZERO;
    if (docs.length > batchSize) {
      const n = this.nextCursor++;
      this.cursors.set(String(n), { ns, docs, pos: batchSize });
      id = Long.fromBigInt(n);
    }
    return { cursor: { [first]: batch, id, ns } };
  }

  address(): string {
    const host = this.opts.bindIp[0] === "0.0.0.0" || this.opts.bindIp[0] === "127.0.0.1"
      ? "localhost"
      : this.opts.bindIp[0];
    return `${host.includes(":") ? `[${host}]` : host}:${this.opts.port}`;
  }

  /** Addresses that refer to this process, for matching replica-set member entries. */
  isSelf(hostPort: string): boolean {
    const i = hostPort.lastIndexOf(":");
    const host = hostPort.slice(0, i).toLowerCase().replace(/^\[(.*)\]$/, "$1");
    const port = Number(hostPort.slice(i + 1));
    if (port !== this.opts.port) return false;
    const names = new Set([...this.opts.bindIp, Deno.hostname().toLowerCase()]);
    if (
      this.opts.bindIp.some((ip) => ip === "127.0.0.1" || ip === "localhost" || ip === "0.0.0.0")
    ) {
      names.add("localhost").add("127.0.0.1");
    }
    return names.has(host) || this.opts.bindIp.includes("0.0.0.0");
  }

  async shutdown(code = 0): Promise<never> {
    if (!this.shuttingDown) {
      this.shuttingDown = true;
      this.log.info("CONTROL", 4784900, "main", "Shutting down");
      await this.role?.stop().catch(() => {});
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
      try {
        this.store.flush();
      } catch {
        // Nothing more can be done while exiting.
      }
      this.log.info("CONTROL", 20565, "main", "Now exiting");
      this.log.info("CONTROL", 23138, "main", "Shutting down", { exitCode: code });
    }
    Deno.exit(code);
  }
}
