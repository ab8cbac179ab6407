/**
 * mongos: reports ready only once its config replica set has a primary; keeps the shard
 * registry in the config servers' config.shards; routes CRUD by the sharding metadata
 * (sim/mongos_routing.ts), answers its commands (sim/mongos_commands.ts) and runs the balancer
 * (sim/balancer.ts).
 */
import { type Document, Long, ObjectId } from "bson";
import { CommandError } from "./errors.ts";
import { balancerRound } from "./balancer.ts";
import { NsLock } from "./ns_lock.ts";
import type { RoleHooks, Router, Server } from "./server.ts";

/** How often the balancer looks for work when there was none. */
const BALANCER_INTERVAL_MS = 5000;
/** How often config.mongos.ping is refreshed (mongos's uptime reporter: every 10 s). */
const UPTIME_REPORT_MS = 10_000;

export class Mongos implements RoleHooks, Router {
  readonly configSet: string;
  /**
   * The config server set's members as last seen: the configdb seeds at first, then what its
   * members' hello lists, as the server's replica set monitor follows a set (SDAM: a primary's
   * hosts, passives and arbiters replace the list; another member's add to it). A member added
   * or removed since the start is followed without a restart.
   */
  configHosts: string[];
  private primary?: string;
  private monitorTimer?: ReturnType<typeof setInterval>;
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
        if (setName === this.configSet) this.learnConfigHosts(r);
        if (r.isWritablePrimary) return h;
        if (r.primary) return r.primary as string;
      } catch {
        // Try the next seed.
      }
    }
    return undefined;
  }

  /** Follows the config server set's membership from one member's hello (see configHosts). */
  private learnConfigHosts(r: Document): void {
    const listed = [...(r.hosts ?? []), ...(r.passives ?? []), ...(r.arbiters ?? [])].map(String);
    if (!listed.length) return;
    this.configHosts = r.isWritablePrimary
      ? listed
      : [...new Set([...this.configHosts, ...listed])];
  }

  /** Asks the config primary's hello every second, as the replica set monitor does. */
  private monitorConfigSet(): void {
    this.monitorTimer = setInterval(async () => {
      const at = this.primary;
      if (!at || this.stopped) return;
      const r = await this.server.peers.run(at, "admin", { hello: 1 }, 1500).catch(() => undefined);
      if (r?.setName === this.configSet) this.learnConfigHosts(r);
    }, 1000);
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
    this.monitorConfigSet();
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
    await this.refreshShardHosts(shard, set, hosts.split(","), p).catch(() => {});
    return p;
  }

  /** When each shard's connection string was last compared with its set (ms since epoch). */
  private shardChecked = new Map<string, number>();

  /**
   * A shard whose replica set gained or lost members has its connection string in config.shards
   * rewritten to the members its primary's hello lists (hosts and passives; hidden members and
   * arbiters are not listed), as the server's ShardRegistry does when its replica set monitor
   * sees the set change ("Updating sharding state with confirmed replica set"). Compared at most
   * once a second per shard.
   */
  private async refreshShardHosts(
    shard: Document,
    set: string,
    recorded: string[],
    primary: string,
  ): Promise<void> {
    const id = String(shard._id);
    const now = Date.now();
    if (now - (this.shardChecked.get(id) ?? 0) < 1000) return;
    this.shardChecked.set(id, now);
    const r = await this.server.peers.run(primary, "admin", { hello: 1 }, 1500);
    if (r.setName !== set) return;
    const seen = [...(r.hosts ?? []), ...(r.passives ?? [])].map(String);
    const same = seen.length === recorded.length && seen.every((h) => recorded.includes(h));
    if (!seen.length || same) return;
    await this.config("config", {
      update: "shards",
      updates: [{ q: { _id: id }, u: { $set: { host: `${set}/${seen.join(",")}` } } }],
      writeConcern: { w: "majority" },
    });
  }

  /**
   * setFeatureCompatibilityVersion through mongos: the config servers take it first, with the
   * caller's `confirm` (they refuse it without, 7369100, in their own FCV's words), then each
   * shard.
   */
  async broadcastFcv(version: string, confirm: unknown): Promise<void> {
    await this.config("admin", { setFeatureCompatibilityVersion: version, confirm });
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
    clearInterval(this.monitorTimer);
    return Promise.resolve();
  }
}
