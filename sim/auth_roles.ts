/**
 * Built-in roles and which commands they allow, after MongoDB's "Built-In Roles" page, at the
 * grain of commands (not every privilege action): read, readWrite, dbAdmin, userAdmin, dbOwner on
 * one database; the *AnyDatabase roles, clusterMonitor, clusterManager, clusterAdmin, root and
 * the internal __system on admin. A command not listed here is a cluster command: it needs a
 * cluster role.
 */
export interface Role {
  role: string;
  db: string;
}

/** Roles that exist only on the admin database. */
export const ADMIN_ONLY_ROLES = new Set([
  "readAnyDatabase",
  "readWriteAnyDatabase",
  "dbAdminAnyDatabase",
  "userAdminAnyDatabase",
  "clusterMonitor",
  "clusterManager",
  "hostManager",
  "clusterAdmin",
  "backup",
  "restore",
  "root",
  "__system",
]);

/** Built-in role names (createUser refuses others with 31 RoleNotFound). */
export const BUILTIN_ROLES = new Set([
  "read",
  "readWrite",
  "dbAdmin",
  "userAdmin",
  "dbOwner",
  ...ADMIN_ONLY_ROLES,
]);

/** Commands that need no authentication (requiresAuth() is false for them in mongod). */
export const NO_AUTH_COMMANDS = new Set([
  "hello",
  "ping",
  "buildInfo",
  "saslStart",
  "saslContinue",
  "authenticate",
  "logout",
  "getnonce",
  "connectionStatus",
  "endSessions",
]);

/**
 * What the localhost exception allows while no user exists (docs: "All Localhost Exception
 * Privileges"): createUser/createRole on the admin database (which end it), replSetInitiate,
 * replSetGetStatus, replSetReconfig, and addShard on mongos.
 */
const LOCALHOST_COMMANDS = new Set([
  "createUser",
  "createRole",
  "replSetInitiate",
  "replSetGetStatus",
  "replSetReconfig",
  "addShard",
]);

export function isLocalhostAllowed(name: string, db: string): boolean {
  if (name === "createUser" || name === "createRole") return db === "admin";
  return LOCALHOST_COMMANDS.has(name);
}

const READ = new Set([
  "find",
  "getMore",
  "count",
  "distinct",
  "aggregate",
  "listCollections",
  "listIndexes",
  "killCursors",
  "dbStats",
  "collStats",
  "dbHash",
]);
const WRITE = new Set([
  "insert",
  "update",
  "delete",
  "findAndModify",
  "create",
  "drop",
  "createIndexes",
  "dropIndexes",
  "renameCollection",
]);
const DB_ADMIN = new Set(["dropDatabase", "collMod", "compact", "validate", "profile"]);
/**
 * What dbAdmin has besides DB_ADMIN ("Built-In Roles", dbAdmin): listings and statistics, and
 * creating and dropping collections and indexes; it reads no collection but system.profile.
 */
const DB_ADMIN_ALSO = new Set([
  "listCollections",
  "listIndexes",
  "dbStats",
  "collStats",
  "create",
  "drop",
  "createIndexes",
  "dropIndexes",
  "renameCollection",
]);
const USER_ADMIN = new Set([
  "createUser",
  "updateUser",
  "dropUser",
  "usersInfo",
  "createRole",
  "dropRole",
  "rolesInfo",
  "grantRolesToUser",
  "revokeRolesFromUser",
]);
/** Any authenticated user: listDatabases lists what the user may see (authorizedDatabases). */
const ANY_USER = new Set(["listDatabases", "commitTransaction", "abortTransaction"]);
const CLUSTER_MONITOR = new Set([
  "getParameter",
  "serverStatus",
  "replSetGetStatus",
  "replSetGetConfig",
  "getCmdLineOpts",
  "listShards",
  "balancerStatus",
  "hostInfo",
  "getLog",
  "currentOp",
  "top",
  "connPoolStats",
  "getShardMap",
  "getDefaultRWConcern",
]);

/**
 * Commands among members only, which need the `internal` action that no role but `__system`
 * has, root included (repl_set_command.cpp: ReplSetCommand's default authorization).
 */
const INTERNAL = new Set([
  "replSetHeartbeat",
  "replSetUpdatePosition",
  "replSetRequestVotes",
  "replSetGetRBID",
]);

type Kind =
  | "read"
  | "write"
  | "dbAdmin"
  | "userAdmin"
  | "any"
  | "monitor"
  | "cluster"
  | "internal";

function kindOf(name: string): Kind {
  if (READ.has(name)) return "read";
  if (WRITE.has(name)) return "write";
  if (DB_ADMIN.has(name)) return "dbAdmin";
  if (USER_ADMIN.has(name)) return "userAdmin";
  if (ANY_USER.has(name)) return "any";
  if (CLUSTER_MONITOR.has(name)) return "monitor";
  if (INTERNAL.has(name)) return "internal";
  return "cluster";
}

/** A command's target: its database, its name, and the collection it names (if any). */
export interface Target {
  db: string;
  name: string;
  coll?: string;
}

/**
 * A collection the server keeps itself (`system.users`, `system.profile`…), which the read and
 * write roles do not cover ("Built-In Roles": read covers non-system collections and
 * system.js); backup reads, restore writes, root does both.
 */
function isSystem(coll: string | undefined): boolean {
  return coll !== undefined && coll.startsWith("system.") && coll !== "system.js";
}

/** dbAdmin's grant on its database (DB_ADMIN, DB_ADMIN_ALSO, reads of system.profile). */
function dbAdminGrants(kind: Kind, t: Target): boolean {
  return kind === "dbAdmin" || DB_ADMIN_ALSO.has(t.name) ||
    kind === "read" && t.coll === "system.profile";
}

/** What one role grants for a command of `kind` on target `t`. */
function grants(role: Role, kind: Kind, t: Target): boolean {
  const here = role.db === t.db;
  const data = (kind === "read" || kind === "write") && !isSystem(t.coll);
  switch (role.role) {
    case "__system":
      return true;
    case "root":
      return kind !== "internal";
    case "read":
      return here && kind === "read" && data;
    case "readWrite":
      return here && data;
    case "dbAdmin":
      return here && dbAdminGrants(kind, t);
    case "userAdmin":
      return here && kind === "userAdmin";
    case "dbOwner":
      return here && (data || dbAdminGrants(kind, t) || kind === "userAdmin");
    case "readAnyDatabase":
      return kind === "read" && data;
    case "readWriteAnyDatabase":
      return data;
    case "dbAdminAnyDatabase":
      return dbAdminGrants(kind, t);
    case "userAdminAnyDatabase":
      return kind === "userAdmin";
    // The cluster roles also read the config and local databases (find, listCollections,
    // listIndexes, stats: "Built-In Roles"), as sh.status() and rs.printReplicationInfo() need.
    case "clusterMonitor":
      return kind === "monitor" || kind === "read" && (t.db === "config" || t.db === "local");
    case "clusterManager":
    case "clusterAdmin":
      return kind === "monitor" || kind === "cluster" ||
        kind === "read" && (t.db === "config" || t.db === "local");
    case "hostManager":
      return kind === "monitor" || kind === "cluster";
    case "backup":
      return kind === "read" || kind === "monitor";
    case "restore":
      return kind === "write";
  }
  return false;
}

/**
 * Whether a user holding `roles` may run command `name` on `db` (on collection `coll`, for a
 * command that names one).
 */
export function authorized(roles: Role[], name: string, db: string, coll?: string): boolean {
  const kind = kindOf(name);
  if (kind === "any") return true;
  // The local and config databases are not covered by the *AnyDatabase read/write roles.
  const anyDbExcluded = (db === "local" || db === "config") &&
    (kind === "read" || kind === "write");
  return roles.some((r) =>
    grants(r, kind, { db, name, coll }) &&
    !(anyDbExcluded && r.role.endsWith("AnyDatabase"))
  );
}

/** Whether `roles` act on users of every database (usersInfo's forAllDBs). */
export function userAdminEverywhere(roles: Role[]): boolean {
  return roles.some((r) => ["root", "__system", "userAdminAnyDatabase"].includes(r.role));
}

/** Databases a user may list (listDatabases' authorizedDatabases); undefined means all. */
export function visibleDatabases(roles: Role[]): Set<string> | undefined {
  const all = roles.some((r) =>
    ["root", "__system", "readAnyDatabase", "readWriteAnyDatabase", "clusterMonitor"].includes(
      r.role,
    ) || r.role === "clusterAdmin" || r.role === "backup"
  );
  return all ? undefined : new Set(roles.map((r) => r.db));
}
