/**
 * TLS as `net.tls.mode` asks for it (MongoDB docs: net.tls.mode, "Upgrade a Cluster to Use
 * TLS/SSL"):
 * - requireTLS: the listener speaks only TLS, with the certificate and key of
 *   `net.tls.certificateKeyFile` (one PEM file holding both, as mongod reads it);
 * - allowTLS and preferTLS: one port takes plain and TLS clients; the first bytes of a
 *   connection tell them apart (a TLS handshake record starts 0x16 0x03) and TLS connections
 *   are handed to an internal TLS listener on the loopback interface (TlsLayer), keeping the
 *   client's own address (for the localhost exception, shutdown's localhost check);
 * - disabled: a TLS handshake is refused (the connection closes), as mongod does.
 * Members connect to each other in plain under allowTLS, over TLS under preferTLS and
 * requireTLS, trusting `net.tls.CAFile`. `setParameter: {tlsMode}` moves allowTLS → preferTLS →
 * requireTLS at runtime, never the other way (sim/commands/basic.ts).
 */
import type { ServerOptions } from "./options.ts";

export const TLS_MODES = ["disabled", "allowTLS", "preferTLS", "requireTLS"] as const;
export type TlsMode = typeof TLS_MODES[number];

export interface TlsSettings {
  /** The mode the process runs in now (setParameter tlsMode changes it). */
  mode: Exclude<TlsMode, "disabled">;
  cert: string;
  key: string;
  /** PEM of the CA that signs the other members' certificates. */
  ca?: string;
}

const SSL_NAMES: Record<string, TlsMode> = {
  disabled: "disabled",
  allowSSL: "allowTLS",
  preferSSL: "preferTLS",
  requireSSL: "requireTLS",
};

/** The TLS settings of a process started with a TLS mode other than disabled; else undefined. */
export function tlsSettings(opts: ServerOptions): TlsSettings | undefined {
  const net = opts.parsed.net as { tls?: Record<string, unknown> } | undefined;
  const tls = net?.tls ?? (opts.parsed.net as { ssl?: Record<string, unknown> } | undefined)?.ssl;
  const raw = String(tls?.mode ?? "disabled");
  const mode = SSL_NAMES[raw] ?? raw as TlsMode;
  if (mode === "disabled") return undefined;
  const file = (tls?.certificateKeyFile ?? tls?.PEMKeyFile) as string | undefined;
  if (!file) {
    throw new Error("need tlsCertificateKeyFile or certificateSelector when TLS is enabled");
  }
  const pem = Deno.readTextFileSync(file);
  const certs = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  const key = pem.match(
    /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]+?-----END [A-Z ]*PRIVATE KEY-----/,
  );
  if (!certs || !key) {
    throw new Error(`cannot read certificate and private key from PEM file ${file}`);
  }
  const caFile = tls?.CAFile as string | undefined;
  return {
    mode,
    cert: certs.join("\n") + "\n",
    key: key[0] + "\n",
    ca: caFile ? Deno.readTextFileSync(caFile) : undefined,
  };
}

/** The wire protocol's request opcodes (OP_MSG, OP_QUERY, OP_COMPRESSED). */
const WIRE_OPCODES = new Set([2013, 2004, 2012]);

/**
 * Whether a connection's first bytes are a TLS handshake record (content type 22, version 3.x)
 * rather than a wire-protocol message whose length happens to start the same way (a 790-byte
 * first message: 0x16 0x03 …): a message header has a request opcode at bytes 12–15, where a
 * ClientHello has random bytes.
 */
export function isTlsHandshake(first: Uint8Array): boolean {
  if (first.length < 2 || first[0] !== 0x16 || first[1] !== 0x03) return false;
  if (first.length < 16) return true;
  const opCode = new DataView(first.buffer, first.byteOffset).getInt32(12, true);
  return !WIRE_OPCODES.has(opCode);
}

/**
 * Reads a connection's first bytes, enough to tell TLS from the wire protocol: one byte when it
 * is not 0x16 (no TLS record), else a message header's 16; fewer when the client closed first
 * (null: it sent nothing).
 */
export async function peekStart(conn: Deno.Conn): Promise<Uint8Array | null> {
  let got = new Uint8Array(0);
  while (got.length < 16 && (got.length === 0 || got[0] === 0x16)) {
    const chunk = new Uint8Array(64 * 1024);
    const n = await conn.read(chunk);
    if (n === null) return got.length ? got : null;
    const next = new Uint8Array(got.length + n);
    next.set(got);
    next.set(chunk.subarray(0, n), got.length);
    got = next;
  }
  return got;
}

/**
 * A connection to a port that takes plain clients: its first bytes say whether it is a TLS
 * handshake (relayed to `layer` under allowTLS/preferTLS, refused when TLS is disabled) or the
 * wire protocol (refused once setParameter made the mode requireTLS). Returns the first bytes
 * of a plain connection to serve; undefined when it was relayed or closed.
 */
export async function admit(
  conn: Deno.Conn,
  remote: string,
  layer: TlsLayer | undefined,
  mode: TlsMode | undefined,
  log: (msg: string) => void,
): Promise<Uint8Array | undefined> {
  const first = await peekStart(conn).catch(() => null);
  const close = (msg?: string) => {
    if (msg) log(msg);
    try {
      conn.close();
    } catch {
      // Already closed.
    }
    return undefined;
  };
  if (!first) return close();
  if (isTlsHandshake(first)) {
    if (!layer) return close("SSL handshake received but server is started without SSL support");
    await layer.relay(conn, first, remote);
    return undefined;
  }
  if (mode === "requireTLS") {
    return close("Error receiving request from client: a plain connection under requireTLS");
  }
  return first;
}

async function copy(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(64 * 1024);
  try {
    while (true) {
      const n = await from.read(buf);
      if (n === null) break;
      let off = 0;
      while (off < n) off += await to.write(buf.subarray(off, n));
    }
  } catch {
    // Either side went away.
  }
  for (const c of [from, to]) {
    try {
      c.close();
    } catch {
      // Already closed.
    }
  }
}

/**
 * The TLS side of a port that also takes plain clients (allowTLS, preferTLS): a TLS listener on
 * 127.0.0.1 (an ephemeral port) to which TLS connections of the real port are relayed byte for
 * byte. `onConn` gets each decrypted connection with the address of the client that made it.
 */
export class TlsLayer {
  private listener?: Deno.TlsListener;
  private readonly remotes = new Map<number, string>();
  private readonly waiting = new Map<number, (remote: string) => void>();
  private readonly relays = new Set<Deno.Conn>();

  constructor(
    private readonly settings: TlsSettings,
    private readonly onConn: (conn: Deno.Conn, remote: string) => void,
  ) {}

  start(): void {
    this.listener = Deno.listenTls({
      hostname: "127.0.0.1",
      port: 0,
      cert: this.settings.cert,
      key: this.settings.key,
    });
    this.acceptLoop(this.listener);
  }

  private async acceptLoop(l: Deno.TlsListener): Promise<void> {
    try {
      for await (const conn of l) {
        const port = (conn.remoteAddr as Deno.NetAddr).port;
        const known = this.remotes.get(port);
        const remote = known ?? await new Promise<string>((r) => this.waiting.set(port, r));
        this.remotes.delete(port);
        this.onConn(conn, remote);
      }
    } catch {
      // Closed at shutdown.
    }
  }

  /** Relays a client's TLS connection (whose first bytes were already read) to the TLS listener. */
  async relay(conn: Deno.Conn, first: Uint8Array, remote: string): Promise<void> {
    const port = (this.listener!.addr as Deno.NetAddr).port;
    let inner: Deno.TcpConn;
    try {
      inner = await Deno.connect({ hostname: "127.0.0.1", port });
    } catch {
      conn.close();
      return;
    }
    inner.setNoDelay(true);
    const local = (inner.localAddr as Deno.NetAddr).port;
    const w = this.waiting.get(local);
    if (w) {
      this.waiting.delete(local);
      w(remote);
    } else this.remotes.set(local, remote);
    this.relays.add(conn).add(inner);
    let off = 0;
    try {
      while (off < first.length) off += await inner.write(first.subarray(off));
    } catch {
      // The copy below closes both.
    }
    await Promise.all([copy(conn, inner), copy(inner, conn)]);
    this.relays.delete(conn);
    this.relays.delete(inner);
  }

  close(): void {
    try {
      this.listener?.close();
    } catch {
      // Already closed.
    }
    for (const c of this.relays) {
      try {
        c.close();
      } catch {
        // Already closed.
      }
    }
  }
}
