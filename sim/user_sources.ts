/**
 * Where a server's users are read from (Auth's UserSource): a mongod's own admin.system.users,
 * or, for a mongos, its config servers'.
 */
import type { Document } from "bson";
import { USERS_NS, type UserSource } from "./auth.ts";
import type { Server } from "./server.ts";
import type { DataStore } from "./store.ts";

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
