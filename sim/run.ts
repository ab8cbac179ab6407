/** Starting and serving a simulated mongod or mongos (the non-fork half of sim/main.ts). */
import { ShardVersions } from "./shard_version.ts";
import * as path from "node:path";
import { BSON } from "bson";
import { basicCommands, buildInfo } from "./commands/basic.ts";
import { failPointCommands } from "./commands/fail_points.ts";
import { crudCommands } from "./commands/crud.ts";
import { replSetCommands } from "./commands/replset.ts";
import { rwDefaultsCommands } from "./rw_defaults.ts";
import { allowedFcvs, FCV_ID, majorMinor } from "./fcv.ts";
import { Auth } from "./auth.ts";
import { configUsers, storeUsers } from "./user_sources.ts";
import { authCommands } from "./auth_users.ts";
import { Log } from "./log.ts";
import { tlsSettings } from "./tls.ts";
import { Mongos } from "./mongos.ts";
import { mongosCommands } from "./mongos_commands.ts";
import { journalOff, type ServerOptions } from "./options.ts";
import { loadQueryEngine } from "./query.ts";
import { setDateVersion } from "./date_to_string.ts";
import { ReplSet } from "./replset.ts";
import { Server } from "./server.ts";
import { DataStore } from "./store.ts";
import { rollbackId } from "./rollback_id.ts";
import {
  EXIT_ABRUPT,
  EXIT_BADOPTIONS,
  EXIT_NEED_UPGRADE,
  EXIT_NET_ERROR,
  EXIT_UNCAUGHT,
  stderr,
} from "./exit.ts";

function faultApplies(opts: ServerOptions): boolean {
  const ports = Deno.env.get("MUP_SIM_FAULT_PORTS");
  return !ports || ports.split(",").map(Number).includes(opts.port);
}

export async function runServer(opts: ServerOptions): Promise<number> {
  const log = new Log();
  try {
    if (opts.logpath) log.open(opts.logpath, opts.logappend);
  } catch (e) {
    stderr(`Failed to open ${opts.logpath}: ${(e as Error).message}`);
    return 1;
  }
  const dbPath = opts.dbpath;
  setDateVersion(opts.version);
  log.info("CONTROL", 4615611, "initandlisten", "MongoDB starting", {
    pid: Deno.pid,
    port: opts.port,
    ...(dbPath ? { dbPath } : {}),
    architecture: "64-bit",
    host: Deno.hostname(),
  });
  log.info("CONTROL", 23403, "initandlisten", "Build Info", {
    buildInfo: buildInfo(opts.version, opts.variant),
  });
  log.info("CONTROL", 21951, "initandlisten", "Options set by command line", {
    options: opts.parsed,
  });
  for (const option of opts.ignored) {
    log.info(
      "CONTROL",
      9_100_001,
      "initandlisten",
      "Option accepted, not acted on by the simulator",
      {
        option,
      },
    );
  }
  const fatal = (id: number, msg: string, attr: Record<string, unknown>, code: number) => {
    log.write(code === EXIT_NEED_UPGRADE ? "F" : "E", "CONTROL", id, "initandlisten", msg, attr);
    log.info("CONTROL", 23138, "initandlisten", "Shutting down", { exitCode: code });
    if (!Deno.env.get("MUP_SIM_FORKED") && opts.logpath) stderr(`${msg}: ${JSON.stringify(attr)}`);
    return code;
  };

  const faults = faultApplies(opts);
  const delay = Number(Deno.env.get("MUP_SIM_STARTUP_DELAY_MS") ?? 0);
  if (faults && delay > 0) await new Promise((r) => setTimeout(r, delay));
  const crashCode = Deno.env.get("MUP_SIM_CRASH_AT_STARTUP");
  if (faults && crashCode) {
    return fatal(23090, "Fatal assertion (simulated crash at startup)", {
      knob: "MUP_SIM_CRASH_AT_STARTUP",
    }, Number(crashCode) || EXIT_ABRUPT);
  }

  // mongod_main.cpp: a replica-set member journals, or does not start (before 6.1, whose
  // option table still has --nojournal).
  if (
    opts.role === "mongod" && opts.replSet && journalOff(opts)
  ) {
    return fatal(
      20535,
      "Running wiredTiger without journaling in a replica set is not supported. Make sure " +
        "you are not using --nojournal and that storage.journal.enabled is not set to 'false'",
      {},
      EXIT_BADOPTIONS,
    );
  }
  if (opts.keyFile) {
    const problem = checkKeyFile(opts.keyFile);
    if (problem) return fatal(20574, "Error during global initialization", { error: problem }, 1);
  }

  let store: DataStore;
  if (opts.role === "mongod") {
    try {
      if (!Deno.statSync(dbPath!).isDirectory) throw new Error();
    } catch {
      return fatal(20557, "DBException in initAndListen, terminating", {
        error:
          `NonExistentPath: Data directory ${dbPath} not found. Create the missing directory or specify another path using (1) the --dbpath command line option, or (2) by adding the 'storage.dbPath' option in the configuration file.`,
      }, EXIT_UNCAUGHT);
    }
    const lockFile = path.join(dbPath!, "mongod.lock");
    try {
      const holder = Number(Deno.readTextFileSync(lockFile).trim());
      if (holder && holder !== Deno.pid && alive(holder)) {
        return fatal(20557, "DBException in initAndListen, terminating", {
          error:
            `DBPathInUse: Unable to lock the lock file: ${lockFile} (Resource temporarily unavailable). Another mongod instance is already running on the ${dbPath} directory`,
        }, EXIT_UNCAUGHT);
      }
    } catch {
      // No lock file: a clean start.
    }
    Deno.writeTextFileSync(lockFile, `${Deno.pid}\n`);
    const oplogMB = Number(
      (opts.parsed.replication as { oplogSizeMB?: unknown } | undefined)?.oplogSizeMB ?? 0,
    );
    try {
      store = new DataStore(dbPath!, oplogMB > 0 ? oplogMB : undefined);
    } catch (e) {
      return fatal(20557, "DBException in initAndListen, terminating", {
        error: `UnknownError: cannot open the data files in ${dbPath}: ${(e as Error).message}`,
      }, EXIT_UNCAUGHT);
    }
    writeEngineMetadata(dbPath!);
    const fcvDoc = store.findById("admin", "system.version", FCV_ID);
    if (fcvDoc && !allowedFcvs(opts.version).includes(String(fcvDoc.version))) {
      return fatal(20573, "Wrong mongod version", {
        error:
          `UPGRADE PROBLEM: Found an invalid featureCompatibilityVersion document (ERROR: Location4926900: Invalid featureCompatibilityVersion document in admin.system.version: { _id: "featureCompatibilityVersion", version: "${fcvDoc.version}" }. See https://docs.mongodb.com/master/release-notes/${
            majorMinor(opts.version)
          }-compatibility/#feature-compatibility. :: caused by :: Invalid feature compatibility version value '${fcvDoc.version}'; expected '${
            allowedFcvs(opts.version).join("' or '")
          }'. See https://docs.mongodb.com/master/release-notes/${
            majorMinor(opts.version)
          }-compatibility/#feature-compatibility.). If the current featureCompatibilityVersion is below ${
            majorMinor(opts.version)
          }, see the documentation on upgrading at https://docs.mongodb.com/master/release-notes/${
            majorMinor(opts.version)
          }/#upgrade-procedures.`,
      }, EXIT_NEED_UPGRADE);
    }
    if (!fcvDoc) {
      store.putDoc("admin", "system.version", {
        _id: FCV_ID,
        version: majorMinor(opts.version),
      });
    }
  } else {
    store = new DataStore();
  }

  const server = new Server(opts, log, store);
  server.peers.partitioned = faults && !!Deno.env.get("MUP_SIM_PARTITIONED");
  try {
    server.tls = tlsSettings(opts);
  } catch (e) {
    return fatal(20574, "Error during global initialization", { error: (e as Error).message }, 1);
  }
  // Outgoing connections are plain under allowTLS, TLS under preferTLS and requireTLS (MongoDB
  // docs: net.tls.mode), read at each connection since setParameter may change the mode.
  server.peers.tls = () =>
    server.tls && server.tls.mode !== "allowTLS"
      ? { caCerts: server.tls.ca ? [server.tls.ca] : undefined }
      : undefined;
  server.register(basicCommands);
  server.register(failPointCommands);
  server.auth = new Auth(server, opts.role === "mongod" ? storeUsers(store) : configUsers(server));
  server.register(authCommands);
  server.register(rwDefaultsCommands);
  if (opts.role === "mongod") {
    server.register(crudCommands);
    server.register(replSetCommands);
    server.shardVersions = new ShardVersions();
    server.register(server.shardVersions.commands);
    if (opts.replSet) {
      const r = new ReplSet(server);
      rollbackId(store); // made at startup, as mongod's replication coordinator does
      if (faults) {
        r.sync.cloneDelayMs = Number(Deno.env.get("MUP_SIM_CLONE_DELAY_MS") ?? 0) || 0;
        r.sync.cloneGate = Deno.env.get("MUP_SIM_CLONE_GATE") || undefined;
      }
      (server as unknown as { repl: ReplSet }).repl = r;
      server.role = r;
    } else {
      server.role = {
        helloFields: () => ({}),
        checkWritable: () => {},
        checkReadable: () => {},
        stop: () => Promise.resolve(),
      };
    }
  } else {
    let m: Mongos;
    try {
      m = new Mongos(server);
    } catch (e) {
      return fatal(
        20574,
        "Error during global initialization",
        { error: (e as Error).message },
        EXIT_BADOPTIONS,
      );
    }
    server.role = m;
    server.router = m;
    server.register(mongosCommands);
    // A router's own background work (balancer rounds, routing-table reads) queries documents.
    await loadQueryEngine();
    await m.waitForConfigPrimary(() =>
      log.info("SHARDING", 22649, "main", "Config server replica set has a primary", {
        configdb: opts.configdb,
      })
    );
  }

  try {
    server.listen();
  } catch (e) {
    const inUse = e instanceof Deno.errors.AddrInUse;
    // The same message under each server's own log ID: mongod_main.cpp logs 20568,
    // mongos_main.cpp 22856 (tools such as mongodb-runner retry another port on 22856).
    return fatal(opts.role === "mongos" ? 22856 : 20568, "Error setting up listener", {
      error: {
        code: 9001,
        codeName: "SocketException",
        errmsg: inUse ? "Address already in use" : (e as Error).message,
      },
    }, EXIT_NET_ERROR);
  }
  if (opts.pidfilepath) {
    Deno.mkdirSync(path.dirname(opts.pidfilepath), { recursive: true });
    Deno.writeTextFileSync(opts.pidfilepath, `${Deno.pid}\n`);
  }
  (server.role as { start?: () => void }).start?.();
  for (const sig of ["SIGTERM", "SIGINT"] as const) {
    Deno.addSignalListener(sig, () => {
      log.info("CONTROL", 23377, "SignalHandler", "Received signal", {
        signal: sig === "SIGTERM" ? 15 : 2,
      });
      server.shutdown(0);
    });
  }
  const crashAfter = Number(Deno.env.get("MUP_SIM_CRASH_AFTER_S") ?? 0);
  if (faults && crashAfter > 0) setTimeout(() => Deno.exit(EXIT_ABRUPT), crashAfter * 1000);
  log.info("NETWORK", 23015, "listener", "Listening on", { address: opts.bindIp[0] });
  log.info("NETWORK", 23016, "listener", "Waiting for connections", {
    port: opts.port,
    ssl: server.tls ? "on" : "off",
  });
  // A server that listens (pid file written) but whose --fork parent is told late: a slow
  // start that a test can interrupt while the server already runs and answers.
  const readyDelay = Number(Deno.env.get("MUP_SIM_READY_DELAY_MS") ?? 0);
  if (faults && readyDelay > 0) await new Promise((r) => setTimeout(r, readyDelay));
  if (Deno.env.get("MUP_SIM_FORKED")) {
    try {
      await Deno.stdout.write(new TextEncoder().encode("READY\n"));
    } catch {
      // The parent is gone; nothing to tell.
    }
  }
  await new Promise(() => {});
  return 0;
}

function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

function checkKeyFile(file: string): string | undefined {
  let text: string;
  try {
    if ((Deno.statSync(file).mode ?? 0) & 0o077) return `permissions on ${file} are too open`;
    text = Deno.readTextFileSync(file);
  } catch {
    return `error getting file ${file}: No such file or directory`;
  }
  const key = text.replace(/\s/g, "");
  if (key.length < 6 || key.length > 1024) {
    return `security key in ${file} must be between 6 and 1024 characters`;
  }
  if (!/^[A-Za-z0-9+/=]+$/.test(key)) {
    return `invalid char in key file ${file}: ${key.match(/[^A-Za-z0-9+/=]/)?.[0]}`;
  }
  return undefined;
}

/**
 * The files mongod writes in a new dbPath beside its data, as the WiredTiger engine does: the
 * `WiredTiger` version file and `storage.bson` (the engine's metadata, a BSON document naming
 * it). Tools and operators recognise a data directory by them; the simulator's own store file
 * is no one else's business. Written once, at the first start on the directory.
 */
function writeEngineMetadata(dbPath: string): void {
  const write = (name: string, data: Uint8Array) => {
    try {
      Deno.writeFileSync(path.join(dbPath, name), data, { createNew: true });
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    }
  };
  write(
    "WiredTiger",
    new TextEncoder().encode("WiredTiger\nWiredTiger 11.2.0: (December 20, 2022)\n"),
  );
  write(
    "storage.bson",
    BSON.serialize({
      storage: {
        engine: "wiredTiger",
        options: { directoryPerDB: false, directoryForIndexes: false, groupCollections: true },
      },
    }),
  );
}
