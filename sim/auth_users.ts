/**
 * User management commands (createUser, updateUser, dropUser, usersInfo) over admin.system.users,
 * with documents shaped as MongoDB stores them: `_id: "<db>.<user>"`, `userId`, `user`, `db`,
 * `credentials: {"SCRAM-SHA-1": {iterationCount, salt, storedKey, serverKey}, "SCRAM-SHA-256": …}`,
 * `roles: [{role, db}]`. On mongod the writes replicate like any other (oplog); mongos keeps no
 * users and sends these commands to its config servers, as a real mongos does.
 * Also saslStart/saslContinue/logout/connectionStatus.
 */
import { type Document, UUID } from "bson";
import { type Auth, USERS_NS } from "./auth.ts";
import { ADMIN_ONLY_ROLES, BUILTIN_ROLES, type Role } from "./auth_roles.ts";
import { CommandError, errors } from "./errors.ts";
import { makeCredential, type Mechanism, MECHANISMS } from "./scram.ts";
import type { CommandContext, Handler, Server } from "./server.ts";
import { runWrite } from "./writes.ts";

/** mongos's path to its config servers (sim/mongos.ts `Mongos.config`). */
interface ConfigLink {
  config(db: string, cmd: Document): Promise<Document>;
}

function auth(ctx: CommandContext): Auth {
  return (ctx.server as unknown as { auth: Auth }).auth;
}

/** On mongos, user commands run on the config servers' primary. */
async function viaConfig(ctx: CommandContext): Promise<Document | undefined> {
  const router = ctx.server.router as unknown as ConfigLink | undefined;
  if (!router) return undefined;
  const { $db: _d, $clusterTime: _c, $readPreference: _r, lsid: _l, ...cmd } = ctx.body;
  const r = await router.config(ctx.db, cmd);
  // This mongos's connections read their users again before their next command.
  if (!("usersInfo" in cmd)) auth(ctx).noteUsersChanged();
  return r;
}

function userId(db: string, user: string): string {
  return `${db}.${user}`;
}

function parseRoles(v: unknown, db: string): Role[] {
  if (!Array.isArray(v)) throw errors.badValue('"roles" field must be an array');
  return v.map((r) => {
    const role = typeof r === "string"
      ? { role: r, db }
      : { role: String(r?.role), db: String(r?.db) };
    if (!BUILTIN_ROLES.has(role.role) || (ADMIN_ONLY_ROLES.has(role.role) && role.db !== "admin")) {
      throw new CommandError(`Could not find role: ${role.role}@${role.db}`, 31, "RoleNotFound");
    }
    return role;
  });
}

async function credentials(body: Document, user: string, pwd: string): Promise<Document> {
  const wanted = (body.mechanisms ?? MECHANISMS) as string[];
  for (const m of wanted) {
    if (!MECHANISMS.includes(m as Mechanism)) {
      throw errors.badValue(`Unknown auth mechanism '${m}'`);
    }
  }
  if (body.digestPassword === false && wanted.includes("SCRAM-SHA-256")) {
    throw errors.badValue("Use of SCRAM-SHA-256 requires undigested passwords");
  }
  return Object.fromEntries(
    await Promise.all(
      wanted.map(async (m) => [m, await makeCredential(m as Mechanism, user, pwd)] as const),
    ),
  );
}

function checkPwd(pwd: unknown): string {
  if (typeof pwd !== "string") {
    throw errors.badValue(
      "Must provide a 'pwd' field for all user documents, except those with '$external' as the user's source db",
    );
  }
  if (pwd === "") throw errors.badValue("Password cannot be empty");
  return pwd;
}

const createUser: Handler = async (ctx) => {
  // user_management_commands.cpp: the local database holds no users.
  if (ctx.db === "local") throw errors.badValue("Cannot create users in the local database");
  const viaMongos = await viaConfig(ctx);
  if (viaMongos) {
    auth(ctx).noteUserCreated();
    return viaMongos;
  }
  const user = String(ctx.body.createUser ?? "");
  if (!user) throw errors.badValue("User document needs 'user' field to be non-empty");
  const pwd = checkPwd(ctx.body.pwd);
  const roles = parseRoles(ctx.body.roles ?? [], ctx.db);
  const id = userId(ctx.db, user);
  // Derived before the existence check: no await between the check and the write, so that
  // two concurrent createUser of one user cannot both pass it.
  const creds = await credentials(ctx.body, user, pwd);
  if (ctx.server.store.findById(USERS_NS.db, USERS_NS.coll, id)) {
    throw new CommandError(`User "${user}@${ctx.db}" already exists`, 51003, "Location51003");
  }
  const doc = {
    _id: id,
    userId: new UUID(),
    user,
    db: ctx.db,
    credentials: creds,
    roles,
  };
  const r = await runWrite(ctx, (apply) => {
    apply({ op: "i", ns: `${USERS_NS.db}.${USERS_NS.coll}`, o: doc });
    return {};
  });
  auth(ctx).noteUserCreated();
  return r;
};

function existing(server: Server, db: string, user: string): Document {
  const doc = server.store.findById(USERS_NS.db, USERS_NS.coll, userId(db, user));
  if (!doc) throw new CommandError(`User '${user}@${db}' not found`, 11, "UserNotFound");
  return doc;
}

const updateUser: Handler = async (ctx) => {
  const viaMongos = await viaConfig(ctx);
  if (viaMongos) return viaMongos;
  const user = String(ctx.body.updateUser ?? "");
  // Derived before the user is read, so that nothing changes it between the read and the write.
  const creds = ctx.body.pwd === undefined
    ? undefined
    : await credentials(ctx.body, user, checkPwd(ctx.body.pwd));
  const doc = { ...existing(ctx.server, ctx.db, user) };
  if (creds) doc.credentials = creds;
  if (ctx.body.roles !== undefined) doc.roles = parseRoles(ctx.body.roles, ctx.db);
  if (ctx.body.pwd === undefined && ctx.body.roles === undefined) {
    throw errors.badValue("Must specify at least one field to update in updateUser");
  }
  return await runWrite(ctx, (apply) => {
    apply({ op: "u", ns: `${USERS_NS.db}.${USERS_NS.coll}`, o: doc, o2: { _id: doc._id } });
    return {};
  });
};

const dropUser: Handler = async (ctx) => {
  const viaMongos = await viaConfig(ctx);
  if (viaMongos) return viaMongos;
  const doc = existing(ctx.server, ctx.db, String(ctx.body.dropUser ?? ""));
  return await runWrite(ctx, (apply) => {
    apply({ op: "d", ns: `${USERS_NS.db}.${USERS_NS.coll}`, o: { _id: doc._id } });
    return {};
  });
};

const usersInfo: Handler = async (ctx) => {
  const viaMongos = await viaConfig(ctx);
  if (viaMongos) return viaMongos;
  const q = ctx.body.usersInfo;
  const all = ctx.server.store.docs(USERS_NS.db, USERS_NS.coll);
  const wanted = (Array.isArray(q) ? q : [q]).map((x) =>
    typeof x === "string" ? { user: x, db: ctx.db } : x
  );
  const users = all.filter((u) => {
    if (q === 1 || q === true) return u.db === ctx.db;
    if (typeof q === "object" && q && !Array.isArray(q) && q.forAllDBs) return true;
    return wanted.some((w) => w && w.user === u.user && w.db === u.db);
  });
  return {
    users: users.map((u) => ({
      _id: u._id,
      userId: u.userId,
      user: u.user,
      db: u.db,
      roles: u.roles,
      mechanisms: Object.keys(u.credentials ?? {}),
      ...(ctx.body.showCredentials ? { credentials: u.credentials } : {}),
    })),
  };
};

export const authCommands: Record<string, Handler> = {
  createUser,
  updateUser,
  dropUser,
  usersInfo,
  saslStart: (ctx) => auth(ctx).saslStart(ctx),
  saslContinue: (ctx) => auth(ctx).saslContinue(ctx),
  logout: (ctx) => {
    ctx.conn.auth = { users: (ctx.conn.auth?.users ?? []).filter((u) => u.db !== ctx.db) };
    return {};
  },
  connectionStatus: (ctx) => ({
    authInfo: {
      authenticatedUsers: (ctx.conn.auth?.users ?? []).map((u) => ({ user: u.user, db: u.db })),
      authenticatedUserRoles: (ctx.conn.auth?.users ?? []).flatMap((u) => u.roles),
    },
  }),
};
