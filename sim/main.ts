/**
 * The mongod/mongos simulator. Started exactly like the real binaries (same options, same
 * config-file keys); fails the way they fail, with the same exit codes.
 *
 * Fault knobs (environment; MUP_SIM_FAULT_PORTS="p1,p2" limits them to those ports):
 *   MUP_SIM_STARTUP_DELAY_MS  wait before listening
 *   MUP_SIM_CRASH_AT_STARTUP  exit at startup with this code (e.g. 14)
 *   MUP_SIM_CRASH_AFTER_S     die abruptly after this many seconds
 *   MUP_SIM_REFUSE_INITIATE   replSetInitiate fails
 *   MUP_SIM_ELECTION_DELAY_MS slow elections down
 */
import * as path from "node:path";
import { basicCommands, buildInfo } from "./commands/basic.ts";
import { crudCommands } from "./commands/crud.ts";
import { replSetCommands } from "./commands/replset.ts";
import { allowedFcvs, FCV_ID, majorMinor } from "./fcv.ts";
import { Log } from "./log.ts";
import { Mongos, mongosCommands } from "./mongos.ts";
import { OptionsError, parseOptions, type ServerOptions } from "./options.ts";
import { ReplSet } from "./replset.ts";
import { Server } from "./server.ts";
import { DataStore } from "./store.ts";

const EXIT_BADOPTIONS = 2;
const EXIT_NEED_UPGRADE = 62;
const EXIT_NET_ERROR = 48;
const EXIT_UNCAUGHT = 100;
const EXIT_ABRUPT = 14;

function stderr(s: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(s + "\n"));
}

function faultApplies(opts: ServerOptions): boolean {
  const ports = Deno.env.get("MUP_SIM_FAULT_PORTS");
  return !ports || ports.split(",").map(Number).includes(opts.port);
}

export async function simulatorMain(args: string[]): Promise<number> {
  const role = args[0];
  if (role === "mirror") {
    const { buildMirror } = await import("./mirror.ts");
    if (!args[1]) {
      stderr("usage: mirror <dir> [version,...]");
      return EXIT_BADOPTIONS;
    }
    const dir = path.resolve(args[1]);
    await buildMirror(dir, { versions: args[2]?.split(",") });
    console.log(`download mirror written to ${dir}`);
    return 0;
  }
  if (role !== "mongod" && role !== "mongos") {
    stderr("usage: mongod|mongos [options] | mirror <dir> [versions]");
    return EXIT_BADOPTIONS;
  }
  let opts: ServerOptions;
  try {
    opts = parseOptions(role, args.slice(1));
  } catch (e) {
    if (!(e instanceof OptionsError)) throw e;
    stderr(e.message);
    stderr(`try '${role} --help' for more information`);
    return EXIT_BADOPTIONS;
  }
  if (opts.showVersion) {
    const info = buildInfo(opts.version, opts.variant);
    console.log(`${role === "mongod" ? "db" : "mongos"} version v${info.version}`);
    console.log(
      "Build Info: " +
        JSON.stringify(
          {
            version: info.version,
            gitVersion: info.gitVersion,
            openSSLVersion: info.openssl.running,
            modules: [],
            allocator: "tcmalloc",
            environment: info.buildEnvironment,
          },
          null,
          4,
        ),
    );
    return 0;
  }
  if (opts.showHelp) {
    console.log(
      `Options:\n  --port arg, --bind_ip arg, --bind_ip_all, --dbpath arg, --logpath arg, --logappend, --fork,\n  --pidfilepath arg, --replSet arg, --configsvr, --shardsvr, --configdb arg (mongos), --keyFile arg,\n  -f [ --config ] arg, --version`,
    );
    return 0;
  }
  if (opts.fork && !Deno.env.get("MUP_SIM_FORKED")) return await forkParent(opts);
  return await runServer(opts);
}

/** --fork: start a detached child and exit only once it listens (or report its failure). */
async function forkParent(opts: ServerOptions): Promise<number> {
  if (!opts.logpath) {
    stderr("BadValue: --fork has to be used with --logpath or --syslog");
    stderr(`try '${opts.role} --help' for more information`);
    return EXIT_BADOPTIONS;
  }
  const argv = Deno.readTextFileSync("/proc/self/cmdline").split("\0").filter((s, i, a) =>
    i < a.length - 1 || s
  );
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    env: { MUP_SIM_FORKED: "1" },
    detached: true,
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  console.log("about to fork child process, waiting until server is ready for connections.");
  console.log(`forked process: ${child.pid}`);
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (true) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += value;
    if (seen.includes("READY")) {
      console.log("child process started successfully, parent exiting");
      reader.releaseLock();
      child.unref();
      return 0;
    }
  }
  const status = await child.status;
  console.log(`ERROR: child process failed, exited with ${status.code}`);
  console.log('To see additional information in this output, start without the "--fork" option.');
  return status.code;
}

async function runServer(opts: ServerOptions): Promise<number> {
  const log = new Log();
  try {
    if (opts.logpath) log.open(opts.logpath, opts.logappend);
  } catch (e) {
    stderr(`Failed to open ${opts.logpath}: ${(e as Error).message}`);
    return 1;
  }
  const dbPath = opts.dbpath;
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
    store = DataStore.load(dbPath!);
    const fcvDoc = store.collection("admin", "system.version")?.find((d) => d._id === FCV_ID);
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
      store.collection("admin", "system.version", true)!.push({
        _id: FCV_ID,
        version: majorMinor(opts.version),
      });
      store.flush();
    }
  } else {
    store = new DataStore();
  }

  const server = new Server(opts, log, store);
  server.register(basicCommands);
  if (opts.role === "mongod") {
    server.register(crudCommands);
    server.register(replSetCommands);
    if (opts.replSet) {
      const r = new ReplSet(server);
      (server as unknown as { repl: ReplSet }).repl = r;
      server.role = r;
    } else {
      server.role = {
        helloFields: () => ({}),
        checkWritable: () => {},
        checkReadable: () => {},
        afterWrite: () => Promise.resolve(),
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
    return fatal(20568, "Error setting up listener", {
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
    ssl: "off",
  });
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

if (import.meta.main) {
  Deno.exit(await simulatorMain(Deno.args));
}
