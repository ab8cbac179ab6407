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
import {
  authorized,
  isLocalhostAllowed,
  NO_AUTH_COMMANDS,
  type Role,
  userAdminEverywhere,
  visibleDatabases,
} from "./auth_roles.ts";
import { cursorKey } from "./cursors.ts";
import {
  checkOneUser,
  isLocalhost,
  ownerOf,
  selfOnly,
  shellText,
  usersInfoDbs,
} from "./auth_checks.ts";

/** A user authenticated on a connection. */
export interface AuthUser {
  user: string;
  db: string;
  roles: Role[];
  /** When its user document was last read (ms since the epoch): see Auth.refresh. */
  readAt?: number;
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

  /**
   * How long a mongos keeps a user's roles before it reads them again (userCacheInvalidation-
   * IntervalSecs, 30 s); a mongod reads them at every command, as its user cache is invalidated
   * by every change to its users.
   */
  private readonly userCacheMs: number;
  /** When this process last changed a user (a mongos's own user commands): re-read at once. */
  private usersChangedAt = 0;

  constructor(readonly server: Server, readonly users: UserSource) {
    this.userCacheMs = server.router ? 30_000 : 0;
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

  /**
   * Throws 13 Unauthorized unless the connection may run this command: its users' roles (read
   * again, so that a user dropped or given other roles meanwhile has what it has now) must
   * grant it on its database and collection, the roles it grants must be the user's to grant,
   * usersInfo must name users the user may view, and a getMore or killCursors must be of a
   * cursor of the same users (authorization_session_impl.cpp).
   */
  async authorize(name: string, db: string, body: Document, conn: ConnState): Promise<void> {
    if (!this.enabled || NO_AUTH_COMMANDS.has(name)) return;
    const users = await this.refresh(conn);
    if (users.length === 0) {
      if (
        this.localhostBypass && isLocalhost(conn.remote) && isLocalhostAllowed(name, db) &&
        !(await this.hasUsers())
      ) return;
      throw new CommandError(`Command ${name} requires authentication`, 13, "Unauthorized");
    }
    const roles = users.flatMap((u) => u.roles);
    const refuse = () =>
      new CommandError(
        `not authorized on ${db} to execute command ${shellText({ ...body, $db: db })}`,
        13,
        "Unauthorized",
      );
    if (name === "usersInfo") {
      if (selfOnly(body.usersInfo, db, users)) return;
      const q = body.usersInfo as Document | undefined;
      const ok = q && typeof q === "object" && !Array.isArray(q) && q.forAllDBs
        ? userAdminEverywhere(roles)
        : usersInfoDbs(q, db).every((d) => authorized(roles, name, d));
      if (!ok) throw refuse();
      return;
    }
    const target = name === "getMore" ? body.collection : body[name];
    if (!authorized(roles, name, db, typeof target === "string" ? target : undefined)) {
      throw refuse();
    }
    // Granting a role needs the grantRole action on the role's database: a userAdmin of one
    // database cannot give anyone (itself included) a role elsewhere, root least of all.
    if (["createUser", "updateUser", "grantRolesToUser"].includes(name)) {
      for (const r of Array.isArray(body.roles) ? body.roles : []) {
        const on = typeof r === "string" ? db : String(r?.db);
        if (!authorized(roles, "grantRolesToUser", on)) throw refuse();
      }
    }
    if (name === "getMore" || name === "killCursors") {
      const ids = name === "getMore" ? [body.getMore] : (body.cursors ?? []) as unknown[];
      for (const id of ids) {
        const owner = this.server.cursors.get(cursorKey(id))?.owner;
        if (owner === undefined || owner === ownerOf(users)) continue;
        throw new CommandError(
          name === "getMore"
            ? `cursor id ${cursorKey(id)} was not created by the authenticated user`
            : `not authorized to kill cursor ${cursorKey(id)}`,
          13,
          "Unauthorized",
        );
      }
    }
  }

  /**
   * The connection's users with their roles as stored now: a user dropped since it logged in
   * is logged out (its next command needs authentication again), one whose roles changed has
   * the new ones. A mongos reads them at most every `userCacheMs`, and at once after a user
   * command of its own.
   */
  private async refresh(conn: ConnState): Promise<AuthUser[]> {
    const users = conn.auth?.users ?? [];
    const now = Date.now();
    const stale = (u: AuthUser) =>
      !(u.user === SYSTEM_USER && u.db === "local") &&
      ((u.readAt ?? 0) + this.userCacheMs <= now || (u.readAt ?? 0) < this.usersChangedAt);
    if (!users.some(stale)) return users;
    const fresh: AuthUser[] = [];
    for (const u of users) {
      if (!stale(u)) {
        fresh.push(u);
        continue;
      }
      const doc = await this.users.find(u.db, u.user);
      if (!doc) continue;
      const roles = ((doc.roles ?? []) as Role[]).map((r) => ({ role: r.role, db: r.db }));
      fresh.push({ ...u, roles, readAt: now });
    }
    conn.auth = { ...conn.auth, users: fresh };
    return fresh;
  }

  /** A user command ran through this process (mongos): every connection reads its users again. */
  noteUsersChanged(): void {
    this.usersChangedAt = Date.now();
  }

  /** A cursor this command opened is its users' only (getMore/killCursors check it). */
  private tagCursor(ctx: CommandContext, res: Document): void {
    const id = res.cursor?.id;
    if (id === undefined || Number(id) === 0) return;
    const cursor = this.server.cursors.get(cursorKey(id));
    if (cursor) cursor.owner = ownerOf(ctx.conn.auth?.users ?? []);
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
      checkOneUser(ctx.conn.auth?.users ?? [], user, db);
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
    users.push({ user: scram.user, db, roles, readAt: Date.now() });
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
    if (this.enabled) this.tagCursor(ctx, res);
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

function enc(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}
