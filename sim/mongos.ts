/**
 * mongos: reports ready only once its config replica set has a primary; keeps the shard
 * registry in the config servers' config.shards; routes CRUD by the sharding metadata
 * (sim/mongos_routing.ts) and runs the balancer (sim/mongos_admin.ts).
 */
import { shardedDataDistribution } from "./mongos_stats.ts";
import { type Document, Long, ObjectId, Timestamp } from "bson";
import { CommandError, errors } from "./errors.ts";
import { readCommands } from "./commands/read.ts";
import { adminShardingCommands } from "./mongos_admin.ts";
import { balancerRound } from "./balancer.ts";
import { NsLock, routed } from "./mongos_routing.ts";
import type { CommandContext, Handler, RoleHooks, Router, Server } from "./server.ts";

/** How often the balancer looks for work when there was none. */
const BALANCER_INTERVAL_MS = 5000;
/** How often config.mongos.ping is refreshed (mongos's uptime reporter: every 10 s). */
const UPTIME_REPORT_MS = 10_000;

export class Mongos implements RoleHooks, Router {
  readonly configSet: string;
  readonly configHosts: string[];
  private primary?: string;
  /** Chunk migrations exclude routed operations on their namespace. */
  readonly locks = new NsLock();
  inBalancerRound = false;
  balancerRounds = 0;
  private balancerTimer?: ReturnType<typeof setTimeout>;
  private stopped = false;

  constructor(readonly server: Server) {
    const db = server.opts.configdb ?? "";
    const m = /^([^/]+)\/(.+)$/.exec(db);
    if (!m) {
      throw new Error(
        `BadValue: configdb must be of the form <replSetName>/<host:port>[,...], got "${db}"`,
      );
    }
    this.configSet = m[1];
    this.configHosts = m[2].split(",");
  }

  /** Finds the primary of a replica set from seed hosts by asking hello. */
  async findPrimary(setName: string, seeds: string[]): Promise<string | undefined> {
    for (const h of seeds) {
      try {
        const r = await this.server.peers.run(h, "admin", { hello: 1 }, 1500);
        if (r.setName !== setName) continue;
        if (r.isWritablePrimary) return h;
        if (r.primary) return r.primary as string;
      } catch {
        // Try the next seed.
      }
    }
    return undefined;
  }

  async waitForConfigPrimary(signalReady: () => void): Promise<void> {
    let logged = false;
    while (true) {
      this.primary = await this.findPrimary(this.configSet, this.configHosts);
      if (this.primary) break;
      if (!logged) {
        this.server.log.info(
          "SHARDING",
          22727,
          "main",
          "Waiting for the config server replica set to have a primary",
          { configdb: this.server.opts.configdb },
        );
        logged = true;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    await this.registerCluster().catch((e) =>
      this.server.log.info("SHARDING", 22727, "main", "Could not record the cluster identity", {
        error: (e as Error).message,
      })
    );
    signalReady();
    this.kickBalancer(BALANCER_INTERVAL_MS);
  }

  /**
   * config.version (the cluster's identity, which sh.status() prints) if no one recorded it yet,
   * and this mongos's entry in config.mongos.
   */
  private async registerCluster(): Promise<void> {
    const [v] = (await this.config("config", { find: "version", filter: {} })).cursor
      ?.firstBatch ?? [];
    if (!v) {
      // insert, not upsert: a second mongos racing here gets 11000 and keeps the first clusterId.
      await this.config("config", {
        insert: "version",
        documents: [{ _id: 1, clusterId: new ObjectId() }],
        writeConcern: { w: "majority" },
      });
    }
    await this.reportUptime();
  }

  private lastPing = 0;

  /** This mongos's config.mongos document, refreshed like mongos's uptime reporter. */
  private async reportUptime(): Promise<void> {
    this.lastPing = Date.now();
    await this.config("config", {
      update: "mongos",
      updates: [{
        q: { _id: this.server.address() },
        u: {
          $set: {
            ping: new Date(),
            up: Long.fromNumber(Math.floor((Date.now() - this.server.startedAt) / 1000)),
            waiting: true,
            mongoVersion: this.server.opts.version ?? "",
            advisoryHostFQDNs: [],
          },
        },
        upsert: true,
      }],
    });
  }

  /**
   * Whether this mongos may run the balancer round: one mongos of a cluster at a time holds the
   * lease (config.locks, `_id: "balancer"`, without the legacy lock's `state: 2`, which tools read
   * as a migration in progress), renewed each round
   * and taken over once it has been stale for three intervals.
   */
  private async holdBalancerLease(): Promise<boolean> {
    const me = this.server.address();
    const now = new Date();
    try {
      const r = await this.config("config", {
        update: "locks",
        updates: [{
          q: { _id: "balancer", $or: [{ process: me }, { expires: { $lt: now } }] },
          u: {
            $set: {
              process: me,
              when: now,
              expires: new Date(now.getTime() + 3 * BALANCER_INTERVAL_MS),
              why: "balancer round",
            },
          },
          upsert: true,
        }],
      });
      // Held by another mongos: the upsert collides with its document (11000).
      return !r.writeErrors?.length && Number(r.n ?? 0) > 0;
    } catch {
      return false;
    }
  }

  /**
   * Schedules the next balancer round (every BALANCER_INTERVAL_MS, sooner after a migration or
   * when asked): a round reads the balancer settings, shards and sharded collections only.
   */
  kickBalancer(delayMs = 100): void {
    if (this.stopped) return;
    clearTimeout(this.balancerTimer);
    this.balancerTimer = setTimeout(async () => {
      if (this.inBalancerRound) return this.kickBalancer(BALANCER_INTERVAL_MS);
      this.inBalancerRound = true;
      let moved = false;
      try {
        if (Date.now() - this.lastPing >= UPTIME_REPORT_MS) await this.reportUptime();
        if (await this.holdBalancerLease()) moved = await balancerRound(this);
        this.balancerRounds++;
      } catch (e) {
        this.server.log.info("SHARDING", 21872, "Balancer", "Balancer round failed", {
          error: (e as Error).message,
        });
      } finally {
        this.inBalancerRound = false;
      }
      this.kickBalancer(moved ? 100 : BALANCER_INTERVAL_MS);
    }, delayMs);
  }

  /** Runs a command on the config primary, rediscovering it once on failure. */
  async config(db: string, cmd: Document): Promise<Document> {
    for (let attempt = 0; attempt < 20; attempt++) {
      if (!this.primary) this.primary = await this.findPrimary(this.configSet, this.configHosts);
      if (this.primary) {
        try {
          return await this.server.peers.run(this.primary, db, cmd, 5000);
        } catch (e) {
          const code = (e as { code?: number }).code;
          if (code && ![10107, 13435, 11600, 91, 189].includes(code)) throw e;
        }
      }
      this.primary = undefined;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new CommandError(
      `Could not find host matching read preference { mode: "primary" } for set ${this.configSet}`,
      133,
      "FailedToSatisfyReadPreference",
    );
  }

  async shards(): Promise<Document[]> {
    const r = await this.config("config", { find: "shards", filter: {}, batchSize: 10000 });
    return (r.cursor?.firstBatch ?? []) as Document[];
  }

  async shardPrimary(shard: Document): Promise<string> {
    const [set, hosts] = String(shard.host).split("/");
    const p = await this.findPrimary(set, hosts.split(","));
    if (!p) {
      throw new CommandError(
        `Could not find host matching read preference { mode: "primary" } for set ${set}`,
        133,
        "FailedToSatisfyReadPreference",
      );
    }
    return p;
  }

  async broadcastFcv(version: string): Promise<void> {
    await this.config("admin", { setFeatureCompatibilityVersion: version, confirm: true });
    for (const s of await this.shards()) {
      await this.server.peers.run(await this.shardPrimary(s), "admin", {
        setFeatureCompatibilityVersion: version,
        confirm: true,
      }, 30_000);
    }
  }

  helloFields(): Document {
    return { msg: "isdbgrid", isWritablePrimary: true, ismaster: true };
  }
  checkWritable(): void {}
  checkReadable(): void {}
  stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.balancerTimer);
    return Promise.resolve();
  }
}

function mongos(ctx: CommandContext): Mongos {
  return ctx.server.router as Mongos;
}

const addShard: Handler = async (ctx) => {
  if (ctx.db !== "admin") {
    throw errors.unauthorized("addShard may only be run against the admin database.");
  }
  const m = mongos(ctx);
  const spec = String(ctx.body.addShard ?? "");
  const match = /^([^/]+)\/(.+)$/.exec(spec);
  if (!match) {
    throw errors.operationFailed(
      `Cannot add ${spec} as a shard: a shard must be a replica set; use <setName>/<host:port>[,...]`,
    );
  }
  const [, setName, seedList] = match;
  const seeds = seedList.split(",");
  let hello: Document | undefined;
  let reason = "";
  for (const h of seeds) {
    try {
      hello = await ctx.server.peers.run(h, "admin", { hello: 1 }, 3000);
      if (hello.setName !== setName) {
        throw errors.operationFailed(
          `in seed list ${spec}, host ${h} does not belong to replica set ${setName}; found { hosts: ${
            JSON.stringify(hello.hosts ?? [])
          }, setName: "${hello.setName ?? ""}" }`,
        );
      }
      break;
    } catch (e) {
      if (e instanceof CommandError) throw e;
      reason = (e as Error).message;
      hello = undefined;
    }
  }
  if (!hello) {
    throw new CommandError(
      `Connection refused: could not reach any host of ${spec} :: caused by :: ${reason}`,
      6,
      "HostUnreachable",
    );
  }
  // Like mongos's replica-set monitor: wait a while for the set to have a known primary.
  let primary: string | undefined = hello.isWritablePrimary
    ? seeds.find((s) => s.toLowerCase() === hello!.me) ?? hello.me
    : hello.primary;
  for (const end = Date.now() + 15_000; !primary && Date.now() < end;) {
    await new Promise((r) => setTimeout(r, 100));
    primary = await m.findPrimary(setName, [
      ...new Set([...seeds, ...((hello.hosts ?? []) as string[])]),
    ]);
  }
  if (!primary) {
    throw new CommandError(
      `Could not find host matching read preference { mode: "primary" } for set ${setName}`,
      133,
      "FailedToSatisfyReadPreference",
    );
  }
  const opts = await ctx.server.peers.run(primary, "admin", { getCmdLineOpts: 1 }, 3000);
  if (opts.parsed?.sharding?.clusterRole !== "shardsvr") {
    throw errors.operationFailed(
      `Cannot add ${spec} as a shard since it was not started with --shardsvr`,
    );
  }
  const name = String(ctx.body.name ?? setName);
  // The set's connection string as mongos's replica-set monitor knows it: electable and
  // priority-0 (passive) members alike.
  const members = [...(hello.hosts ?? []), ...(hello.passives ?? [])] as string[];
  const host = `${setName}/${members.join(",")}`;
  for (const s of await m.shards()) {
    const sameSet = String(s.host).split("/")[0] === setName;
    if (s._id === name && sameSet) return { shardAdded: name };
    if (s._id === name) throw errors.operationFailed(`A shard named ${name} already exists`);
    if (sameSet) {
      throw errors.operationFailed(
        `'${spec}' is already a member of the existing shard '${s.host}' (${s._id}).`,
      );
    }
  }
  await m.config("config", {
    insert: "shards",
    documents: [{
      _id: name,
      host,
      state: 1,
      topologyTime: new Timestamp({ t: Math.floor(Date.now() / 1000), i: 1 }),
    }],
    writeConcern: { w: "majority" },
  });
  ctx.server.log.info("SHARDING", 21920, "conn", "Added shard", { name, host });
  return { shardAdded: name };
};

const listShards: Handler = async (ctx) => {
  if (ctx.db !== "admin") {
    throw errors.unauthorized("listShards may only be run against the admin database.");
  }
  return { shards: await mongos(ctx).shards() };
};

/**
 * The namespace a cursor-returning command reads, as the server reports it in `cursor.ns`:
 * `db.coll` for find/aggregate on a collection, `db.$cmd.<command>` otherwise.
 */
function cursorNs(db: string, body: Document): string {
  const name = Object.keys(body)[0];
  const target = body[name];
  return typeof target === "string" && name !== "listCollections"
    ? `${db}.${target}`
    : `${db}.$cmd.${name}`;
}

/**
 * The `config` database lives on the config servers, as with a real mongos; CRUD on other
 * databases is routed to the database's primary shard or the shards owning the chunks.
 */
const forward: Handler = async (ctx) => {
  // lsid and txnNumber go along, as from a real mongos: retryable writes stay retryable.
  const { $db: _db, $clusterTime: _c, $readPreference: _r, ...cmd } = ctx.body;
  const name = Object.keys(ctx.body)[0];
  if (ctx.db === "config") return await mongos(ctx).config(ctx.db, cmd);
  const shards = await mongos(ctx).shards();
  if (shards.length === 0) {
    // No shard holds any database yet: reads see nothing, writes have nowhere to go.
    if (name === "listDatabases") return { databases: [], totalSize: 0, totalSizeMb: 0 };
    if (name === "count") return { n: 0 };
    if (["find", "aggregate", "listCollections"].includes(name)) {
      return { cursor: { firstBatch: [], id: Long.ZERO, ns: cursorNs(ctx.db, ctx.body) } };
    }
    throw new CommandError(
      "Database has no primary shard: no shards have been added to the cluster",
      70,
      "ShardNotFound",
    );
  }
  if (name === "listDatabases") return await listDatabases(mongos(ctx), shards, cmd);
  if (name === "aggregate" && cmd.pipeline?.[0]?.$shardedDataDistribution !== undefined) {
    const docs = await shardedDataDistribution(mongos(ctx), ctx.db, cmd);
    return ctx.server.newCursor(`${ctx.db}.$cmd.aggregate`, docs, docs.length || 1);
  }
  if (name === "dropDatabase") return await dropDatabase(mongos(ctx), ctx.db, shards);
  return await routed(ctx);
};

/** Databases of every shard, sizes summed per name. */
async function listDatabases(m: Mongos, shards: Document[], cmd: Document): Promise<Document> {
  const by = new Map<string, Document>();
  for (const s of shards) {
    const r = await m.server.peers.get(await m.shardPrimary(s)).command("admin", cmd, 30_000);
    for (const d of (r.databases ?? []) as Document[]) {
      const prev = by.get(d.name);
      by.set(d.name, prev ? { ...prev, sizeOnDisk: prev.sizeOnDisk + d.sizeOnDisk } : { ...d });
    }
  }
  const databases = [...by.values()];
  const totalSize = databases.reduce((a, d) => a + Number(d.sizeOnDisk ?? 0), 0);
  return cmd.nameOnly
    ? { databases: databases.map((d) => ({ name: d.name })) }
    : { databases, totalSize, totalSizeMb: Math.floor(totalSize / 1048576) };
}

/** Drops the database on every shard, then its sharding metadata. */
async function dropDatabase(m: Mongos, db: string, shards: Document[]): Promise<Document> {
  for (const s of shards) {
    await m.server.peers.run(await m.shardPrimary(s), db, { dropDatabase: 1 }, 30_000);
  }
  const colls = await m.config("config", {
    find: "collections",
    filter: { _id: { $regex: `^${db.replace(/[^A-Za-z0-9_]/g, "\\$&")}\\.` } },
  });
  for (const c of (colls.cursor?.firstBatch ?? []) as Document[]) {
    await m.config("config", { delete: "chunks", deletes: [{ q: { uuid: c.uuid }, limit: 0 }] });
  }
  await m.config("config", {
    delete: "collections",
    deletes: [{
      q: { _id: { $in: colls.cursor.firstBatch.map((c: Document) => c._id) } },
      limit: 0,
    }],
  });
  await m.config("config", {
    delete: "databases",
    deletes: [{ q: { _id: db }, limit: 1 }],
    writeConcern: { w: "majority" },
  });
  return { dropped: db };
}

export const mongosCommands: Record<string, Handler> = {
  addShard,
  listShards,
  ...adminShardingCommands,
  // Cursors of routed reads live on mongos (results merged here), so getMore is answered here.
  getMore: readCommands.getMore,
  killCursors: readCommands.killCursors,
  ...Object.fromEntries(
    [
      "insert",
      "find",
      "distinct",
      "createIndexes",
      "listIndexes",
      "dropIndexes",
      "count",
      "delete",
      "update",
      "drop",
      "create",
      "dropDatabase",
      "listDatabases",
      "listCollections",
      "aggregate",
    ].map((c) => [c, forward]),
  ),
};
