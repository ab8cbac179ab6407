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

export class ShardVersions {
  /** Newest collection version a migration announced, per namespace. */
  private readonly known = new Map<string, Timestamp>();
  /** Namespaces whose migration is in its critical section: writes are refused. */
  private readonly critical = new Set<string>();

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
  };
}
