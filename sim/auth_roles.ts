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
 * Privileges"): createUser/createRole (which end it), replSetInitiate, replSetGetStatus,
 * replSetReconfig, and addShard on mongos.
 */
const LOCALHOST_COMMANDS = new Set([
  "createUser",
  "createRole",
  "replSetInitiate",
  "replSetGetStatus",
  "replSetReconfig",
  "addShard",
]);

export function isLocalhostAllowed(name: string): boolean {
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

type Kind = "read" | "write" | "dbAdmin" | "userAdmin" | "any" | "monitor" | "cluster";

function kindOf(name: string): Kind {
  if (READ.has(name)) return "read";
  if (WRITE.has(name)) return "write";
  if (DB_ADMIN.has(name)) return "dbAdmin";
  if (USER_ADMIN.has(name)) return "userAdmin";
  if (ANY_USER.has(name)) return "any";
  if (CLUSTER_MONITOR.has(name)) return "monitor";
  return "cluster";
}

/** What one role grants for a command of `kind` on database `db`. */
function grants(role: Role, kind: Kind, db: string): boolean {
  const here = role.db === db;
  switch (role.role) {
    case "root":
    case "__system":
      return true;
    case "read":
      return here && kind === "read";
    case "readWrite":
      return here && (kind === "read" || kind === "write");
    case "dbAdmin":
      return here && (kind === "dbAdmin" || kind === "read" && db !== "admin");
    case "userAdmin":
      return here && kind === "userAdmin";
    case "dbOwner":
      return here && ["read", "write", "dbAdmin", "userAdmin"].includes(kind);
    case "readAnyDatabase":
      return kind === "read";
    case "readWriteAnyDatabase":
      return kind === "read" || kind === "write";
    case "dbAdminAnyDatabase":
      return kind === "dbAdmin";
    case "userAdminAnyDatabase":
      return kind === "userAdmin";
    // The cluster roles also read the config and local databases (find, listCollections,
    // listIndexes, stats: "Built-In Roles"), as sh.status() and rs.printReplicationInfo() need.
    case "clusterMonitor":
      return kind === "monitor" || kind === "read" && (db === "config" || db === "local");
    case "clusterManager":
    case "clusterAdmin":
      return kind === "monitor" || kind === "cluster" ||
        kind === "read" && (db === "config" || db === "local");
    case "hostManager":
      return kind === "monitor" || kind === "cluster";
    case "backup":
      return kind === "read" || kind === "monitor";
    case "restore":
      return kind === "write";
  }
  return false;
}

/** Whether a user holding `roles` may run command `name` on `db`. */
export function authorized(roles: Role[], name: string, db: string): boolean {
  const kind = kindOf(name);
  if (kind === "any") return true;
  // The local and config databases are not covered by the *AnyDatabase read/write roles.
  const anyDbExcluded = (db === "local" || db === "config") &&
    (kind === "read" || kind === "write");
  return roles.some((r) =>
    grants(r, kind, db) &&
    !(anyDbExcluded && r.role.endsWith("AnyDatabase"))
  );
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
