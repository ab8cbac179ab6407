/**
 * mongos: reports ready only once its config replica set has a primary; keeps the shard
 * registry in the config servers' config.shards; forwards CRUD to the first shard.
 */
import { type Document, Long, Timestamp } from "bson";
import { CommandError, errors } from "./errors.ts";
import type { CommandContext, Handler, RoleHooks, Router, Server } from "./server.ts";

export class Mongos implements RoleHooks, Router {
  readonly configSet: string;
  readonly configHosts: string[];
  private primary?: string;

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
    signalReady();
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

async function setBalancer(ctx: CommandContext, stopped: boolean): Promise<Document> {
  await mongos(ctx).config("config", {
    update: "settings",
    updates: [{
      q: { _id: "balancer" },
      u: { $set: { stopped, mode: stopped ? "off" : "full" } },
      upsert: true,
    }],
    writeConcern: { w: "majority" },
  });
  return {};
}

const balancerStatus: Handler = async (ctx) => {
  const r = await mongos(ctx).config("config", { find: "settings", filter: { _id: "balancer" } });
  const doc = r.cursor?.firstBatch?.[0];
  return { mode: doc?.stopped ? "off" : "full", inBalancerRound: false, numBalancerRounds: 0 };
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
 * The shard that holds unsharded data: the same one whatever order the config primary lists
 * `config.shards` in (insertion order in memory, key order after a restart or an initial sync),
 * so data written before a config server restarted or changed primary is read back, and
 * written, on the same shard afterwards.
 */
function homeShard(shards: Document[]): Document {
  return [...shards].sort((a, b) => String(a._id).localeCompare(String(b._id), "en"))[0];
}

/**
 * The `config` database lives on the config servers, as with a real mongos; CRUD on other
 * databases goes to the first shard's primary (enough for unsharded collections).
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
  return await onShardPrimary(ctx, homeShard(shards), name, cmd);
};

/** Refusals a shard makes before running anything: always safe to send again. */
const NOT_PRIMARY = new Set([10107, 13435]);
/** Replication state changes that may interrupt a command half-way. */
const STATE_CHANGE = new Set([189, 11602, 91, 11600]);
const READS = new Set(["find", "count", "aggregate", "listCollections", "listDatabases"]);

/**
 * Runs `cmd` on `shard`'s primary. As a real mongos does, a primary that steps down or goes
 * away under the command is waited out here (up to 15 s, like its replica-set monitor) and the
 * command sent to the new primary, when that is safe: a refusal before running, a read, or a
 * retryable write (lsid + txnNumber: the shard answers a repeat with the first outcome). Not
 * done, every election would reach the client as a "not primary" error from mongos itself,
 * making the driver mark mongos unknown and wait for its next check.
 */
async function onShardPrimary(
  ctx: CommandContext,
  shard: Document,
  name: string,
  cmd: Document,
): Promise<Document> {
  const repeatable = READS.has(name) || ctx.body.txnNumber !== undefined;
  const end = Date.now() + 15_000;
  for (;;) {
    let primary: string;
    try {
      primary = await mongos(ctx).shardPrimary(shard);
    } catch (e) {
      if (Date.now() > end) throw e;
      await new Promise((r) => setTimeout(r, 50));
      continue;
    }
    let r: Document;
    try {
      r = await ctx.server.peers.get(primary).command(ctx.db, cmd, 30_000);
    } catch (e) {
      if (!repeatable || Date.now() > end || ctx.server.shuttingDown) throw e;
      await new Promise((r) => setTimeout(r, 50));
      continue;
    }
    const code = Number(r.code);
    const again = !r.ok &&
      (NOT_PRIMARY.has(code) || (repeatable && STATE_CHANGE.has(code)));
    if (!again || Date.now() > end || ctx.server.shuttingDown) return r;
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const mongosCommands: Record<string, Handler> = {
  addShard,
  listShards,
  balancerStart: (ctx) => setBalancer(ctx, false),
  balancerStop: (ctx) => setBalancer(ctx, true),
  balancerStatus,
  ...Object.fromEntries(
    [
      "insert",
      "find",
      "getMore",
      "killCursors",
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
