/**
 * Shard versioning, as a shard keeps it (simplified from MongoDB's): a router sends the version
 * of the routing table it used with each command on a sharded collection (`shardVersion`: the
 * collection's newest chunk version). A shard refuses, with StaleConfig (13388) and before
 * doing anything, a command routed by an older table than the newest one a migration told it
 * about, and refuses writes while a migration of that collection is in its critical section.
 * The router then reloads its table and sends the command again. This is what keeps a write
 * sent through another mongos from landing on a donor after its documents were copied away
 * (https://www.mongodb.com/docs/v7.0/core/sharding-balancer-administration/#range-migration-procedure).
 * The shard's knowledge lives in memory: a restarted shard accepts any version until the next
 * migration tells it one.
 */
import type { Document, Timestamp } from "bson";
import { CommandError } from "./errors.ts";
import type { Handler } from "./server.ts";

const WRITES = new Set(["insert", "update", "delete", "findAndModify"]);

function stale(ns: string, why: string): CommandError {
  return new CommandError(`version mismatch detected for ${ns}: ${why}`, 13388, "StaleConfig");
}

function staleDb(db: string, why: string): CommandError {
  return new CommandError(`database version mismatch for ${db}: ${why}`, 249, "StaleDbVersion");
}

export class ShardVersions {
  /** Newest collection version a migration announced, per namespace. */
  private readonly known = new Map<string, Timestamp>();
  /** Namespaces whose migration is in its critical section: writes are refused. */
  private readonly critical = new Set<string>();
  /** Newest database version (`lastMod`) a movePrimary announced, per database. */
  private readonly dbKnown = new Map<string, number>();
  /** Databases whose movePrimary is in its critical section: routed writes are refused. */
  private readonly dbCritical = new Set<string>();

  /**
   * Checks a command a router sent to a database's primary shard (an unsharded collection's),
   * which carries `databaseVersion: { lastMod }`; throws StaleDbVersion (249) when the router's
   * version is older than one a movePrimary announced here (the database has moved), or when it
   * writes while this database's movePrimary is in its critical section. The router then reads
   * the database's primary again and sends the command there (MongoDB docs, movePrimary: the
   * critical section blocks writes to the database's unsharded collections).
   */
  checkDatabase(db: string, name: string, body: Document): void {
    const version = Number((body.databaseVersion as Document | undefined)?.lastMod);
    const mine = this.dbKnown.get(db);
    if (mine !== undefined && !(version >= mine)) {
      throw staleDb(db, `the router's version ${version} is older than the shard's (${mine})`);
    }
    if (WRITES.has(name) && this.dbCritical.has(db)) {
      throw staleDb(db, "a movePrimary of this database is committing; refresh and retry");
    }
  }

  /**
   * Checks a command that carries `shardVersion`; throws StaleConfig (13388) when the router's
   * table is older than this shard's, or when it writes to a collection in a critical section.
   */
  check(db: string, name: string, body: Document): void {
    const ns = `${db}.${body[name]}`;
    const version = body.shardVersion as Timestamp | undefined;
    const mine = this.known.get(ns);
    if (mine && (!version || version.compare(mine) < 0)) {
      throw stale(ns, `the router's routing table is older than the shard's (${mine})`);
    }
    if (WRITES.has(name) && this.critical.has(ns)) {
      throw stale(ns, "a migration of this collection is committing; refresh and retry");
    }
  }

  /**
   * `_shardsvrMigrationFence: <ns>, enter: bool, version?: Timestamp`: a migrating router enters
   * the critical section on the donor before it copies the range, and leaves it once the new
   * owner is recorded, announcing the new collection version (sent to the recipient too).
   */
  readonly commands: Record<string, Handler> = {
    _shardsvrMigrationFence: (ctx) => {
      const ns = String(ctx.body._shardsvrMigrationFence);
      if (ctx.body.enter) this.critical.add(ns);
      else this.critical.delete(ns);
      const v = ctx.body.version as Timestamp | undefined;
      const mine = this.known.get(ns);
      if (v && (!mine || v.compare(mine) > 0)) this.known.set(ns, v);
      return {};
    },
    /**
     * `_shardsvrMovePrimaryFence: <db>, enter: bool, version?: number`: a router moving the
     * database's primary off this shard enters the critical section before it copies the
     * unsharded collections, and leaves it once the new primary is recorded, announcing the
     * database's new version.
     */
    _shardsvrMovePrimaryFence: (ctx) => {
      const db = String(ctx.body._shardsvrMovePrimaryFence);
      if (ctx.body.enter) this.dbCritical.add(db);
      else this.dbCritical.delete(db);
      const v = ctx.body.version === undefined ? undefined : Number(ctx.body.version);
      const mine = this.dbKnown.get(db);
      if (v !== undefined && (mine === undefined || v > mine)) this.dbKnown.set(db, v);
      return {};
    },
  };
}
