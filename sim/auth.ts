/**
 * Access control as mongod/mongos enforce it with `--auth`, `security.authorization: enabled`
 * or a keyFile (which implies it): SCRAM authentication (saslStart/saslContinue and hello's
 * speculativeAuthenticate), authorization of every command by the built-in roles, the localhost
 * exception, and internal authentication as `__system@local` with the keyfile's key.
 * Follows MongoDB's documentation: "Enable Access Control", "Localhost Exception",
 * "SCRAM", "Built-In Roles", "Internal/Membership Authentication".
 */
import { Binary, type Document } from "bson";
import { CommandError } from "./errors.ts";
import {
  makeCredential,
  type Mechanism,
  MECHANISMS,
  payloadText,
  type ScramCredential,
  ScramError,
  ServerConversation,
} from "./scram.ts";
import type { CommandContext, ConnState, Server } from "./server.ts";
import type { DataStore } from "./store.ts";
import {
  authorized,
  isLocalhostAllowed,
  NO_AUTH_COMMANDS,
  type Role,
  visibleDatabases,
} from "./auth_roles.ts";

/** A user authenticated on a connection. */
export interface AuthUser {
  user: string;
  db: string;
  roles: Role[];
}

/** Per-connection authentication state. */
export interface ConnAuth {
  users: AuthUser[];
  conversation?: {
    id: number;
    db: string;
    scram: ServerConversation;
    skipEmpty: boolean;
    /** Started inside hello (speculativeAuthenticate). */
    speculative?: boolean;
  };
}

export const USERS_NS = { db: "admin", coll: "system.users" };
const SYSTEM_USER = "__system";

export const authFailed = () =>
  new CommandError("Authentication failed.", 18, "AuthenticationFailed");

/** Whether these options turn access control on (a keyFile implies it). */
export function authEnabled(server: Server): boolean {
  const sec = server.opts.parsed.security as Document | undefined;
  return Boolean(server.opts.keyFile) || sec?.authorization === "enabled";
}

/** The key a keyFile holds: its content without whitespace, as mongod reads it. */
export function readKey(file: string): string {
  return Deno.readTextFileSync(file).replace(/\s/g, "");
}

/** Where users are looked up: this mongod's admin.system.users, or the config servers (mongos). */
export interface UserSource {
  find(db: string, user: string): Promise<Document | undefined>;
  any(): Promise<boolean>;
}

/** The authentication and authorization side of one server process. */
export class Auth {
  readonly enabled: boolean;
  /**
   * `__system@local`'s credentials from the keyfile (none without one), derived on first use:
   * PBKDF2 need not hold up the start.
   */
  private system?: Promise<Record<Mechanism, ScramCredential>>;
  private readonly systemKey?: string;
  /** Once a user exists, the localhost exception is over (users are rarely all dropped). */
  private sawUsers = false;
  /**
   * setParameter enableLocalhostAuthBypass (default true): false turns the localhost exception
   * off, so that not even the first user can be created without logging in.
   */
  private readonly localhostBypass: boolean;

  constructor(readonly server: Server, readonly users: UserSource) {
    this.enabled = authEnabled(server);
    const bypass = (server.opts.parsed.setParameter as Record<string, unknown> | undefined)
      ?.enableLocalhostAuthBypass;
    this.localhostBypass = !(bypass === false || bypass === "false" || bypass === 0 ||
      bypass === "0");
    const keyFile = server.opts.keyFile;
    if (keyFile) {
      const key = readKey(keyFile);
      this.systemKey = key;
      server.peers.credentials = { user: SYSTEM_USER, db: "local", password: key };
    }
  }

  private async lookup(db: string, user: string): Promise<Document | undefined> {
    if (db === "local" && user === SYSTEM_USER) {
      const key = this.systemKey;
      if (key === undefined) return undefined;
      this.system ??= Promise.all(
        MECHANISMS.map(async (m) => [m, await makeCredential(m, SYSTEM_USER, key)] as const),
      ).then((entries) => Object.fromEntries(entries) as Record<Mechanism, ScramCredential>);
      return {
        user,
        db,
        roles: [{ role: SYSTEM_USER, db: "admin" }],
        credentials: await this.system,
      };
    }
    return await this.users.find(db, user);
  }

  private async hasUsers(): Promise<boolean> {
    if (!this.sawUsers) this.sawUsers = await this.users.any();
    return this.sawUsers;
  }

  /** Throws 13 Unauthorized unless the connection may run this command. */
  async authorize(name: string, db: string, body: Document, conn: ConnState): Promise<void> {
    if (!this.enabled || NO_AUTH_COMMANDS.has(name)) return;
    const users = conn.auth?.users ?? [];
    if (users.length === 0) {
      if (
        this.localhostBypass && isLocalhost(conn.remote) && isLocalhostAllowed(name) &&
        !(await this.hasUsers())
      ) return;
      throw new CommandError(`Command ${name} requires authentication`, 13, "Unauthorized");
    }
    if (authorized(users.flatMap((u) => u.roles), name, db)) return;
    // Every user may view their own user document (MongoDB's viewUser on oneself).
    if (name === "usersInfo" && selfOnly(body.usersInfo, db, users)) return;
    throw new CommandError(
      `not authorized on ${db} to execute command ${shellText({ ...body, $db: db })}`,
      13,
      "Unauthorized",
    );
  }

  /** A user was created: the localhost exception ends. */
  noteUserCreated(): void {
    this.sawUsers = true;
  }

  /** saslStart: client-first in, server-first out. */
  async saslStart(ctx: CommandContext, body = ctx.body): Promise<Document> {
    const mech = String(body.mechanism) as Mechanism;
    if (!MECHANISMS.includes(mech)) {
      throw new CommandError(
        `Received authentication for mechanism ${mech} which is unknown or not enabled`,
        334,
        "MechanismUnavailable",
      );
    }
    const db = String(body.db ?? ctx.db);
    const scram = new ServerConversation(mech);
    try {
      const user = scram.start(payloadText(body.payload));
      const doc = await this.lookup(db, user);
      const cred = doc?.credentials?.[mech] as ScramCredential | undefined;
      if (!cred) throw new ScramError("no such user or mechanism");
      const first = scram.serverFirstMessage(cred);
      const skipEmpty = (body.options as Document | undefined)?.skipEmptyExchange === true;
      ctx.conn.auth = {
        users: ctx.conn.auth?.users ?? [],
        conversation: { id: 1, db, scram, skipEmpty },
      };
      return { conversationId: 1, done: false, payload: new Binary(enc(first)) };
    } catch (e) {
      if (!(e instanceof ScramError)) throw e;
      this.logFailure(ctx, mech, scram.user, db, e.message);
      throw authFailed();
    }
  }

  /** saslContinue: checks the proof, answers the server signature, logs the user in. */
  async saslContinue(ctx: CommandContext): Promise<Document> {
    const conv = ctx.conn.auth?.conversation;
    if (!conv || Number(ctx.body.conversationId) !== conv.id) {
      throw new CommandError("No SASL session state found", 17, "ProtocolError");
    }
    const { scram, db } = conv;
    if (scram.done) {
      ctx.conn.auth!.conversation = undefined;
      return { conversationId: conv.id, done: true, payload: new Binary(new Uint8Array()) };
    }
    let final: string;
    try {
      final = scram.finish(payloadText(ctx.body.payload));
    } catch (e) {
      ctx.conn.auth!.conversation = undefined;
      if (!(e instanceof ScramError)) throw e;
      this.logFailure(ctx, scram.mech, scram.user, db, e.message);
      throw authFailed();
    }
    const doc = await this.lookup(db, scram.user);
    const roles = ((doc?.roles ?? []) as Role[]).map((r) => ({ role: r.role, db: r.db }));
    const users = (ctx.conn.auth!.users ?? []).filter((u) =>
      !(u.user === scram.user && u.db === db)
    );
    users.push({ user: scram.user, db, roles });
    ctx.conn.auth = { users };
    this.server.log.info("ACCESS", 5286306, "conn" + ctx.conn.id, "Successfully authenticated", {
      client: ctx.conn.remote,
      isSpeculative: Boolean(conv.speculative),
      isClusterMember: scram.user === SYSTEM_USER && db === "local",
      mechanism: scram.mech,
      user: scram.user,
      db,
    });
    // Without skipEmptyExchange the client sends one more, empty, message (RFC 5802's end).
    if (!conv.skipEmpty) ctx.conn.auth.conversation = conv;
    return { conversationId: conv.id, done: conv.skipEmpty, payload: new Binary(enc(final)) };
  }

  private logFailure(
    ctx: CommandContext,
    mechanism: string,
    user: string,
    db: string,
    why: string,
  ): void {
    this.server.log.info("ACCESS", 20249, "conn" + ctx.conn.id, "Authentication failed", {
      mechanism,
      speculative: false,
      principalName: user,
      authenticationDatabase: db,
      remote: ctx.conn.remote,
      extraInfo: {},
      error: `AuthenticationFailed: ${why}`,
    });
  }

  /**
   * Fields a reply gains: hello's saslSupportedMechs and speculativeAuthenticate; listDatabases
   * keeps only the databases the user has roles on (authorizedDatabases).
   */
  async afterCommand(name: string, ctx: CommandContext, res: Document): Promise<Document> {
    if (name === "hello") return await this.helloFields(ctx);
    if (name === "listDatabases" && this.enabled && Array.isArray(res.databases)) {
      const visible = visibleDatabases((ctx.conn.auth?.users ?? []).flatMap((u) => u.roles));
      if (visible) {
        return { databases: (res.databases as Document[]).filter((d) => visible.has(d.name)) };
      }
    }
    return {};
  }

  /** hello's answers to saslSupportedMechs and speculativeAuthenticate (driver handshake). */
  private async helloFields(ctx: CommandContext): Promise<Document> {
    const out: Document = {};
    const mechs = ctx.body.saslSupportedMechs;
    if (typeof mechs === "string" && mechs.includes(".")) {
      const i = mechs.indexOf(".");
      const doc = await this.lookup(mechs.slice(0, i), mechs.slice(i + 1));
      if (doc) out.saslSupportedMechs = Object.keys(doc.credentials ?? {});
    }
    const spec = ctx.body.speculativeAuthenticate as Document | undefined;
    if (spec?.saslStart) {
      try {
        out.speculativeAuthenticate = await this.saslStart(ctx, spec);
        ctx.conn.auth!.conversation!.speculative = true;
      } catch {
        // A failed speculative attempt is just left out; the driver then authenticates normally.
      }
    }
    return out;
  }
}

/** Whether a usersInfo query names only users authenticated on this connection. */
function selfOnly(q: unknown, db: string, users: AuthUser[]): boolean {
  const wanted = (Array.isArray(q) ? q : [q]).map((x) =>
    typeof x === "string" ? { user: x, db } : x as Document | undefined
  );
  return wanted.length > 0 &&
    wanted.every((w) =>
      typeof w?.user === "string" && users.some((u) => u.user === w.user && u.db === w.db)
    );
}

function enc(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

/** Connections from the loopback interface (where the localhost exception applies). */
export function isLocalhost(remote: string): boolean {
  const host = remote.slice(0, remote.lastIndexOf(":")).replace(/^\[(.*)\]$/, "$1");
  return host === "127.0.0.1" || host === "::1" || host.startsWith("127.") || host === "localhost";
}

/** A command as the server's messages print it: `{ find: "c", filter: {}, $db: "test" }`. */
function shellText(v: unknown): string {
  if (v === null || v === undefined) return "null";
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v !== "object") return String(v);
  if (Array.isArray(v)) return `[ ${v.map(shellText).join(", ")} ]`;
  const b = v as { _bsontype?: string; toString(): string };
  if (b._bsontype) return b.toString();
  const entries = Object.entries(v as Document).filter(([k]) =>
    k !== "lsid" && k !== "$clusterTime"
  );
  if (!entries.length) return "{}";
  return `{ ${entries.map(([k, x]) => `${k}: ${shellText(x)}`).join(", ")} }`;
}

/** Users of a mongod: its own admin.system.users. */
export function storeUsers(store: DataStore): UserSource {
  return {
    find: (db, user) =>
      Promise.resolve(store.findById(USERS_NS.db, USERS_NS.coll, `${db}.${user}`)),
    any: () => Promise.resolve(store.docs(USERS_NS.db, USERS_NS.coll).length > 0),
  };
}

/** Users of a mongos: the config servers' admin.system.users (read as __system). */
export function configUsers(server: Server): UserSource {
  const query = async (filter: Document, limit: number) => {
    const router = server.router as unknown as {
      config(db: string, cmd: Document): Promise<Document>;
    };
    const r = await router.config(USERS_NS.db, { find: USERS_NS.coll, filter, limit });
    return (r.cursor?.firstBatch ?? []) as Document[];
  };
  return {
    find: async (db, user) => (await query({ _id: `${db}.${user}` }, 1))[0],
    any: async () => (await query({}, 1)).length > 0,
  };
}
