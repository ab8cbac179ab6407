/**
 * The access checks sim/auth.ts makes that need no server: one user per connection, who owns a
 * cursor, whose users a usersInfo names, the loopback test of the localhost exception, and a
 * command as mongod prints it in an Unauthorized message.
 */
import type { Document } from "bson";
import { CommandError } from "./errors.ts";
import type { AuthUser } from "./auth.ts";

/**
 * A connection authenticates as one user (MongoDB 6.0+, SERVER-56267): another user on the same
 * database is 5626701, a user of another database 5626702; the same user again is allowed.
 */
export function checkOneUser(users: AuthUser[], user: string, db: string): void {
  const other = users.find((u) => !(u.user === user && u.db === db));
  if (!other) return;
  const as = `${other.user}@${other.db}`;
  throw other.db === db
    ? new CommandError(
      `Each client connection may only be authenticated once. Previously authenticated as: ${as}`,
      5626701,
      "Location5626701",
    )
    : new CommandError(
      `Client has attempted to authenticate on multiple databases.Already authenticated as: ${as}`,
      5626702,
      "Location5626702",
    );
}

/** Who a cursor belongs to: the users of the connection that opened it. */
export function ownerOf(users: AuthUser[]): string {
  return users.map((u) => `${u.user}@${u.db}`).sort().join(",");
}

/** The databases whose users a usersInfo query (not forAllDBs) names. */
export function usersInfoDbs(q: unknown, db: string): string[] {
  if (q === 1 || q === true || typeof q === "string") return [db];
  return (Array.isArray(q) ? q : [q]).map((x) =>
    typeof x === "string" ? db : String((x as Document | undefined)?.db ?? db)
  );
}

/** Whether a usersInfo query names only users authenticated on this connection. */
export function selfOnly(q: unknown, db: string, users: AuthUser[]): boolean {
  const wanted = (Array.isArray(q) ? q : [q]).map((x) =>
    typeof x === "string" ? { user: x, db } : x as Document | undefined
  );
  return wanted.length > 0 &&
    wanted.every((w) =>
      typeof w?.user === "string" && users.some((u) => u.user === w.user && u.db === w.db)
    );
}

/** Connections from the loopback interface (where the localhost exception applies). */
export function isLocalhost(remote: string): boolean {
  const host = remote.slice(0, remote.lastIndexOf(":")).replace(/^\[(.*)\]$/, "$1");
  return host === "127.0.0.1" || host === "::1" || host.startsWith("127.") || host === "localhost";
}

/** A command as the server's messages print it: `{ find: "c", filter: {}, $db: "test" }`. */
export function shellText(v: unknown): string {
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
