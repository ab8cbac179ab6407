/**
 * serverStatus's counters (opcounters, opcountersRepl, network) and the sections made from them,
 * beside host, uptime, connections and repl (sim/commands/basic.ts). Shapes follow
 * https://www.mongodb.com/docs/manual/reference/command/serverStatus/.
 * Sections the simulator has nothing true to put in (wiredTiger's cache, locks, metrics) are
 * left out rather than filled with made-up figures.
 */
import { type Document, Long } from "bson";
import type { Server } from "./server.ts";

/** The six counters of serverStatus.opcounters and .opcountersRepl. */
export interface OpCounters {
  insert: number;
  query: number;
  update: number;
  delete: number;
  getmore: number;
  command: number;
}

function zero(): OpCounters {
  return { insert: 0, query: 0, update: 0, delete: 0, getmore: 0, command: 0 };
}

/**
 * What one server counted since it started. As mongod counts them: an insert command counts each
 * document it carries, an update or delete command each statement, find and getMore one each,
 * every other command one under `command` (counted when received, whether it then succeeds or
 * not); a secondary counts the oplog entries it applies by their kind (`opcountersRepl`).
 */
export class ServerCounters {
  readonly ops = zero();
  readonly repl = zero();
  bytesIn = 0;
  bytesOut = 0;
  numRequests = 0;

  /** One command received: `name` as dispatched, `body` its document. */
  command(name: string, body: Document): void {
    const n = (field: string) => Array.isArray(body[field]) ? body[field].length : 0;
    if (name === "insert") this.ops.insert += n("documents");
    else if (name === "update") this.ops.update += n("updates");
    else if (name === "delete") this.ops.delete += n("deletes");
    else if (name === "find") this.ops.query++;
    else if (name === "getMore") this.ops.getmore++;
    else this.ops.command++;
  }

  /**
   * One oplog entry a secondary applied (`e.op`: i, u, d, c, n; no-ops are not counted). The
   * simulator logs a retryable write's config.transactions record as an entry of its own, where
   * MongoDB derives it from the write's entries: those are not counted either.
   */
  applied(e: { op?: unknown; ns?: unknown }): void {
    if (e.ns === "config.transactions") return;
    const op = e.op;
    if (op === "i") this.repl.insert++;
    else if (op === "u") this.repl.update++;
    else if (op === "d") this.repl.delete++;
    else if (op === "c") this.repl.command++;
  }

  /** One request read (`inBytes`) and its reply written (`outBytes`, 0 for none). */
  message(inBytes: number, outBytes: number): void {
    this.numRequests++;
    this.bytesIn += inBytes;
    this.bytesOut += outBytes;
  }
}

/** Counters as serverStatus reports them: 64-bit integers. */
function longs(c: OpCounters): Document {
  return Object.fromEntries(Object.entries(c).map(([k, v]) => [k, Long.fromNumber(v)]));
}

/** Resident and virtual size in MiB (serverStatus.mem), read from /proc where there is one. */
function mem(): Document {
  const mib = (bytes: number) => Math.round(bytes / 1048576);
  let virtual = 0;
  try {
    const kb = /VmSize:\s+(\d+)/.exec(Deno.readTextFileSync("/proc/self/status"))?.[1];
    virtual = kb ? Math.round(Number(kb) / 1024) : 0;
  } catch {
    // Not Linux: no virtual size to give.
  }
  return { bits: 64, resident: mib(Deno.memoryUsage().rss), virtual, supported: true };
}

/** A mongos's config server set as a connection string: `<set>/<host:port>,…`. */
function mongosConfigString(server: Server): string {
  const r = server.router as { configSet?: string; configHosts?: string[] } | undefined;
  return r?.configSet ? `${r.configSet}/${(r.configHosts ?? []).join(",")}` : "";
}

/**
 * The sections serverStatus adds to host, uptime and connections (sim/commands/basic.ts) from
 * what `server` counted: network, opcounters, opcountersRepl, mem and (mongod) storageEngine.
 */
export function statusSections(server: Server): Document {
  const c = server.counters;
  return {
    network: {
      bytesIn: Long.fromNumber(c.bytesIn),
      bytesOut: Long.fromNumber(c.bytesOut),
      numRequests: Long.fromNumber(c.numRequests),
    },
    opcounters: longs(c.ops),
    opcountersRepl: longs(c.repl),
    mem: mem(),
    // mongos: where its config servers are and the chunk size the balancer splits at (128 MiB,
    // 7.0's default); lastSeenConfigServerOpTime is not kept, so it is not answered.
    ...(server.opts.role === "mongos"
      ? {
        sharding: {
          configsvrConnectionString: mongosConfigString(server),
          maxChunkSizeInBytes: Long.fromNumber(128 * 1024 * 1024),
        },
      }
      : {}),
    ...(server.opts.role === "mongos" ? {} : {
      storageEngine: {
        name: "wiredTiger",
        supportsCommittedReads: true,
        persistent: true,
        readOnly: false,
      },
    }),
  };
}
