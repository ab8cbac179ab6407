/** Commands every role answers: hello, ping, buildInfo, getCmdLineOpts, getParameter, shutdown… */
import { createHash } from "node:crypto";
import { type Document, Long } from "bson";
import { CommandError, errors } from "../errors.ts";
import { allowedFcvs, FCV_ID, majorMinor } from "../fcv.ts";
import type { CommandContext, Handler } from "../server.ts";
import { maxWireVersion } from "../wire.ts";
import { runWrite } from "../writes.ts";
import { authEnabled } from "../auth.ts";
import { statusSections } from "../server_status.ts";
import { TLS_MODES, type TlsMode, type TlsSettings } from "../tls.ts";

/** The process's TLS mode now (getParameter tlsMode). */
function tlsModeOf(ctx: CommandContext): TlsMode {
  return ctx.server.tls?.mode ?? "disabled";
}

export function buildInfo(version: string, variant: string): Document {
  const parts = version.split(".").map(Number);
  return {
    version: variant === "percona" ? `${version}-3` : version,
    gitVersion: createHash("sha1").update(version).digest("hex"),
    ...(variant === "percona" ? { psmdbVersion: `${version}-3` } : {}),
    versionArray: [parts[0], parts[1], parts[2] ?? 0, 0],
    modules: [],
    allocator: "tcmalloc",
    javascriptEngine: "mozjs",
    sysInfo: "deprecated",
    openssl: { running: "OpenSSL 3.0.2 15 Mar 2022", compiled: "OpenSSL 3.0.2 15 Mar 2022" },
    buildEnvironment: { distmod: "ubuntu2204", distarch: "x86_64", target_arch: "x86_64" },
    bits: 64,
    debug: false,
    maxBsonObjectSize: 16777216,
    storageEngines: ["devnull", "wiredTiger"],
  };
}

export function currentFcv(ctx: CommandContext): string {
  const doc = ctx.server.store.findById("admin", "system.version", FCV_ID);
  return String(doc?.version ?? majorMinor(ctx.server.opts.version));
}

const hello: Handler = async (ctx) => {
  const s = ctx.server;
  const refuse = () => {
    if (s.shuttingDown) throw errors.shutdownInProgress();
    const left = s.quiesce.left();
    if (left !== undefined) throw errors.shutdownInProgress(left);
  };
  refuse();
  const client = ctx.body.client as Document | undefined;
  if (client && !ctx.conn.client) {
    const appName = (client.application as Document | undefined)?.name;
    ctx.conn.client = typeof appName === "string" ? { appName } : {};
  }
  if (ctx.body.topologyVersion !== undefined && ctx.body.maxAwaitTimeMS !== undefined) {
    await s.awaitTopologyChange(ctx.body.topologyVersion, Number(ctx.body.maxAwaitTimeMS));
    refuse();
  }
  s.noteTopology();
  const reply: Document = {
    helloOk: true,
    isWritablePrimary: true,
    ismaster: true,
    topologyVersion: s.topologyVersion(),
    maxBsonObjectSize: 16777216,
    maxMessageSizeBytes: 48000000,
    maxWriteBatchSize: 100000,
    localTime: new Date(),
    logicalSessionTimeoutMinutes: 30,
    connectionId: ctx.conn.id,
    minWireVersion: 0,
    maxWireVersion: maxWireVersion(s.opts.version),
    readOnly: false,
    ...s.role?.helloFields(),
  };
  // hello answers isWritablePrimary; the legacy isMaster (and ismaster) answers ismaster.
  if (Object.keys(ctx.body)[0] === "hello") delete reply.ismaster;
  else delete reply.isWritablePrimary;
  return reply;
};

function stripUndefined(d: Document): Document {
  return Object.fromEntries(Object.entries(d).filter(([, v]) => v !== undefined));
}

/** A startup parameter's value: "300000" → 300000, "true" → true, other text as it is. */
function typedParameter(v: unknown): unknown {
  if (typeof v !== "string") return v;
  if (v === "true" || v === "false") return v === "true";
  return /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v;
}

const getParameter: Handler = (ctx) => {
  if (ctx.db !== "admin") {
    throw errors.unauthorized("getParameter may only be run against the admin database.");
  }
  if (ctx.body.featureCompatibilityVersion) {
    if (ctx.server.opts.role === "mongos") {
      throw new CommandError("no option found to get", 72, "InvalidOptions");
    }
    return { featureCompatibilityVersion: { version: currentFcv(ctx) } };
  }
  const known: Document = {
    quiet: false,
    logLevel: 0,
    shutdownTimeoutMillisForSignaledShutdown: 15000,
    // Parameters set at startup (setParameter in the configuration file, --setParameter) read
    // back as given (tester85); a command line's text is typed as mongod parses it.
    ...Object.fromEntries(
      Object.entries(
        (ctx.server.opts.parsed.setParameter ?? {}) as Record<string, unknown>,
      ).map(([k, v]) => [k, typedParameter(v)]),
    ),
    tlsMode: tlsModeOf(ctx),
    sslMode: tlsModeOf(ctx).replace("TLS", "SSL"),
    // The idle cursor timeout the server applies (cursors.ts), as set at startup or since.
    cursorTimeoutMillis: ctx.server.cursors.timeoutMs,
    transactionLifetimeLimitSeconds: 60,
  };
  const out: Document = {};
  for (const k of Object.keys(ctx.body)) {
    if (k === "getParameter" || k.startsWith("$") || k === "lsid") continue;
    if (!(k in known)) throw new CommandError("no option found to get", 72, "InvalidOptions");
    out[k] = known[k];
  }
  return ctx.body.getParameter === "*" ? known : out;
};

/** Runtime parameters of mongod the simulator knows by name but does not act on. */
const RUNTIME_PARAMETERS = new Set([
  "logLevel",
  "logComponentVerbosity",
  "quiet",
  "transactionLifetimeLimitSeconds",
  "maxTransactionLockRequestTimeoutMillis",
  "notablescan",
  "ttlMonitorEnabled",
  "diagnosticDataCollectionEnabled",
  "enableFlowControl",
  "redactClientLogData",
  "auditAuthorizationSuccess",
  "wiredTigerEngineRuntimeConfig",
  "internalQueryMaxBlockingSortMemoryUsageBytes",
  "maxNumActiveUserIndexBuilds",
]);

/**
 * setParameter, for the one runtime parameter mup uses: tlsMode, which only moves allowTLS →
 * preferTLS → requireTLS (MongoDB's ssl_parameters.cpp checkTLSModeTransition: any other change,
 * also to the current mode, is BadValue "Illegal state transition for tlsMode, attempt to change
 * from X to Y"). Answers `was`, the old value, as mongod does. cursorTimeoutMillis changes the
 * idle cursor timeout (cursors.ts). Other parameters are refused: those mongod has, 115.
 */
const setParameter: Handler = (ctx) => {
  if (ctx.db !== "admin") {
    throw errors.unauthorized("setParameter may only be run against the admin database.");
  }
  const names = Object.keys(ctx.body).filter((k) =>
    k !== "setParameter" && !k.startsWith("$") && k !== "lsid" && k !== "comment"
  );
  if (names.length === 0) {
    throw errors.badValue("no option found to set, use help:true to see options ");
  }
  const out: Document = {};
  for (const k of names) {
    if (k === "cursorTimeoutMillis") {
      const ms = Number(ctx.body[k]);
      if (!Number.isFinite(ms)) {
        throw errors.badValue(`Invalid value for cursorTimeoutMillis: ${String(ctx.body[k])}`);
      }
      out.was = ctx.server.cursors.timeoutMs;
      ctx.server.cursors.timeoutMs = ms;
      continue;
    }
    // A parameter mongod takes at runtime that the simulator would not act on: said so, not
    // called unknown (tester88, tester90).
    if (RUNTIME_PARAMETERS.has(k)) {
      throw new CommandError(
        `setParameter ${k} is not supported by this server (the simulator does not act on it)`,
        115,
        "CommandNotSupported",
      );
    }
    if (k !== "tlsMode") {
      throw new CommandError(
        `attempted to set unrecognized parameter [${k}], use help:true to see options `,
        72,
        "InvalidOptions",
      );
    }
    const want = String(ctx.body[k]);
    if (!(TLS_MODES as readonly string[]).includes(want)) {
      throw errors.badValue(
        `Invalid tlsMode setting '${want}', expected one of: 'disabled', 'allowTLS', 'preferTLS', or 'requireTLS'`,
      );
    }
    const was = tlsModeOf(ctx);
    const tls = ctx.server.tls;
    const legal = tls && (was === "allowTLS" && want === "preferTLS" ||
      was === "preferTLS" && want === "requireTLS");
    if (!legal) {
      throw errors.badValue(
        `Illegal state transition for tlsMode, attempt to change from ${was} to ${want}`,
      );
    }
    tls.mode = want as TlsSettings["mode"];
    out.was = was;
  }
  return out;
};

const setFeatureCompatibilityVersion: Handler = async (ctx) => {
  if (ctx.db !== "admin") {
    throw errors.unauthorized(
      "setFeatureCompatibilityVersion may only be run against the admin database.",
    );
  }
  const target = String(ctx.body.setFeatureCompatibilityVersion);
  const allowed = allowedFcvs(ctx.server.opts.version);
  if (!allowed.includes(target)) {
    throw errors.badValue(
      `Invalid command argument. Expected '${
        allowed.join("' or '")
      }', found '${target}' in: { setFeatureCompatibilityVersion: "${target}" }`,
    );
  }
  if (ctx.server.opts.role === "mongos") {
    await ctx.server.router!.broadcastFcv(target, ctx.body.confirm);
    return {};
  }
  if (Number(majorMinor(ctx.server.opts.version)) >= 7 && ctx.body.confirm !== true) {
    // set_feature_compatibility_version_command.cpp: the upgrade's words, else the downgrade's.
    throw new CommandError(
      Number(target) > Number(currentFcv(ctx))
        ? `Once you have upgraded to ${target}, you will not be able to downgrade FCV and binary version without support assistance. Please re-run this command with 'confirm: true' to acknowledge this and continue with the FCV upgrade.`
        : "Once you have downgraded the FCV, if you choose to downgrade the binary version, it will require support assistance. Please re-run this command with 'confirm: true' to acknowledge this and continue with the FCV downgrade.",
      7369100,
      "Location7369100",
    );
  }
  return await runWrite(
    { ...ctx, body: { ...ctx.body, writeConcern: { w: "majority" } } },
    (apply) => {
      apply({
        op: "u",
        ns: "admin.system.version",
        o: { _id: FCV_ID, version: target },
        o2: { _id: FCV_ID },
      });
      return {};
    },
  );
};

const shutdown: Handler = async (ctx) => {
  if (ctx.db !== "admin") {
    throw errors.unauthorized("shutdown may only be run against the admin database.");
  }
  // Without access control only a client on this host may shut it down; with it, any user the
  // shutdown action is granted to (hostManager, clusterManager, root), as CmdShutdown allows.
  const remote = ctx.conn.remote;
  const local = remote.startsWith("127.") || remote.startsWith("::1") || remote.startsWith("[::1]");
  if (!local && !authEnabled(ctx.server)) {
    throw errors.unauthorized("shutdown must run from localhost when running db without auth");
  }
  const force = Boolean(ctx.body.force);
  const timeoutSecs = Number(ctx.body.timeoutSecs ?? (force ? 0 : 15));
  await ctx.server.role?.beforeShutdown?.(force, timeoutSecs);
  // A mongos, or a secondary (a primary once it handed off), lets what runs finish, and its
  // clients move away, for timeoutSecs first (5.0+: quiesce.ts).
  const mongos = ctx.server.opts.role === "mongos";
  const secondary = (ctx.server as unknown as { repl?: { state: number } }).repl?.state === 2;
  if (mongos || secondary) await ctx.server.quiesce.enter(timeoutSecs * 1000, mongos);
  setTimeout(() => ctx.server.shutdown(0), 10);
  return { __closeConnection: true };
};

const serverStatus: Handler = (ctx) => {
  const s = ctx.server;
  return {
    host: Deno.hostname(),
    version: s.opts.version,
    process: s.opts.role,
    pid: Long.fromNumber(Deno.pid),
    uptime: Math.floor((Date.now() - s.startedAt) / 1000),
    uptimeMillis: Long.fromNumber(Date.now() - s.startedAt),
    uptimeEstimate: Long.fromNumber(Math.floor((Date.now() - s.startedAt) / 1000)),
    localTime: new Date(),
    connections: {
      current: s.conns.size,
      available: 838860 - s.conns.size,
      totalCreated: s.totalConns,
    },
    ...statusSections(s),
    ...(s.opts.replSet ? { repl: stripUndefined(s.role?.helloFields() ?? {}) } : {}),
  };
};

export const basicCommands: Record<string, Handler> = {
  hello: async (ctx) => stripUndefined(await hello(ctx)),
  ping: () => ({}),
  buildInfo: (ctx) => buildInfo(ctx.server.opts.version, ctx.server.opts.variant),
  getCmdLineOpts: (ctx) => ({ argv: ctx.server.opts.argv, parsed: ctx.server.opts.parsed }),
  getParameter,
  setParameter,
  setFeatureCompatibilityVersion,
  shutdown,
  serverStatus,
  endSessions: () => ({}),
  killAllSessions: () => ({}),
  whatsmyuri: (ctx) => ({ you: ctx.conn.remote }),
  connectionStatus: () => ({ authInfo: { authenticatedUsers: [], authenticatedUserRoles: [] } }),
  hostInfo: () => ({
    system: { hostname: Deno.hostname(), numCores: navigator.hardwareConcurrency },
    os: { type: "Linux" },
  }),
};
