/**
 * The mongod/mongos simulator. Started exactly like the real binaries (same options, same
 * config-file keys); fails the way they fail, with the same exit codes.
 *
 * Fault knobs (environment; MUP_SIM_FAULT_PORTS="p1,p2" limits them to those ports):
 *   MUP_SIM_STARTUP_DELAY_MS  wait before listening
 *   MUP_SIM_READY_DELAY_MS    listen (pid file written), then wait before telling the --fork
 *                             parent the server is ready
 *   MUP_SIM_CRASH_AT_STARTUP  exit at startup with this code (e.g. 14)
 *   MUP_SIM_CRASH_AFTER_S     die abruptly after this many seconds
 *   MUP_SIM_REFUSE_INITIATE   replSetInitiate fails
 *   MUP_SIM_ELECTION_DELAY_MS slow elections down
 *   MUP_SIM_CLONE_DELAY_MS    an initial sync or rollback waits this long before it copies each
 *                             collection (a large data set over a slow network)
 *   MUP_SIM_PARTITIONED       cut off from the other members (a network partition between
 *                             members): heartbeats and votes neither leave nor arrive; clients
 *                             still reach it
 *
 * This file stays light: the --fork parent loads only option parsing; the server itself is
 * in run.ts, loaded by the process that serves.
 */
import * as path from "node:path";
import { parseOptions, type ServerOptions } from "./options.ts";
import { OptionsError } from "./errors.ts";
import { EXIT_BADOPTIONS, stderr } from "./exit.ts";

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
    const { buildInfo } = await import("./commands/basic.ts");
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
    const { helpText } = await import("./option_table.ts");
    console.log(helpText(role));
    return 0;
  }
  if (opts.outputConfig) {
    const { stringify } = await import("yaml");
    const { outputConfig: _o, ...parsed } = opts.parsed;
    console.log(stringify(parsed).trimEnd());
    return 0;
  }
  if (opts.shutdown) return await shutdownServer(opts);
  if (opts.fork && !Deno.env.get("MUP_SIM_FORKED")) return await forkParent(opts);
  const { runServer } = await import("./run.ts");
  return await runServer(opts);
}

/** --shutdown: like mongod, signals the server whose pid the dbpath's lock file holds and waits. */
async function shutdownServer(opts: ServerOptions): Promise<number> {
  const lock = path.join(opts.dbpath!, "mongod.lock");
  const pid = Number((() => {
    try {
      return Deno.readTextFileSync(lock).trim();
    } catch {
      return "";
    }
  })());
  const alive = (p: number) => {
    try {
      const stat = Deno.readTextFileSync(`/proc/${p}/stat`);
      return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
    } catch {
      return false;
    }
  };
  if (!pid || !alive(pid)) {
    console.log(`There doesn't seem to be a server running with dbpath: ${opts.dbpath}`);
    return 1;
  }
  console.log(`killing process with pid: ${pid}`);
  Deno.kill(pid, "SIGTERM");
  for (const end = Date.now() + 300_000; alive(pid);) {
    if (Date.now() > end) {
      console.log(`failed to kill process: process ${pid} is still running after 300 seconds`);
      return 1;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return 0;
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

if (import.meta.main) {
  Deno.exit(await simulatorMain(Deno.args));
}
