/**
 * Every startup option of mongod and mongos 6.0–8.0 (community), as a table.
 *
 * Transcribed from the server's option definitions (src/mongo/db/server_options_base.idl,
 * server_options_general.idl, server_options_nongeneral.idl, mongod_options_general.idl,
 * mongod_options_storage.idl, mongod_options_replication.idl, mongod_options_sharding.idl,
 * storage/wiredtiger/wiredtiger_global_options.idl, util/net/ssl_options_server.idl,
 * s/mongos_options.idl) and the configuration-file reference. Enterprise-only options (LDAP,
 * auditing, encryption at rest, inMemory, SNMP) are not here: a community binary refuses them too.
 *
 * Each row: the configuration-file key (`yaml`, dotted), the command-line names (`cli`, without
 * `--`), the value type, which binaries accept it, and the checks the server makes on the value.
 *
 * Two readers, one source: mup checks a topology's runtime_config against it before planning
 * (lib/topology/runtime_options.ts), and the simulator parses its options with it. `acted` and
 * `refused` are the simulator's: `acted` marks the options it acts on (every other accepted option
 * is logged as ignored at startup).
 */

export type OptionType = "switch" | "bool" | "int" | "double" | "string" | "list" | "map";

export interface OptionSpec {
  /** Configuration-file key; also the key the option is canonicalised to. */
  yaml?: string;
  /** Command-line names, without the leading `--` (single letters take one `-`). */
  cli?: string[];
  type: OptionType;
  /** Binaries accepting it; both when absent. */
  roles?: ("mongod" | "mongos")[];
  /** Inclusive numeric bounds, checked like the IDL validators (gte/lte). */
  min?: number;
  max?: number;
  /** Allowed string values. */
  choices?: string[];
  /** For cli-only switches: the canonical key and value they set (e.g. --nounixsocket). */
  sets?: [string, unknown];
  /** Accepted on the command line only, not in the configuration file (e.g. --replSet). */
  cliOnly?: boolean;
  /** Command-line options this one may not be given with (the IDL's `conflicts`). */
  conflicts?: string[];
  /** Value taken when the option is given on the command line without one. */
  implicit?: unknown;
  /** The simulator acts on this option (others are accepted and logged as ignored). */
  acted?: boolean;
  /**
   * What the real server does with this option that the simulator does not (a one-off job, then
   * exit): the simulator refuses it rather than start as if the job had been done.
   */
  refused?: string;
  /** The first release series whose binaries know the option (earlier: "Unrecognized option"). */
  addedIn?: string;
  /**
   * The first release series whose binaries no longer know the option ("Unrecognized option"),
   * e.g. storage.journal.enabled, removed in 6.1 (journaling is always on).
   */
  removedIn?: string;
  /** A value the server refuses at startup although it parses, with the server's reason. */
  refusedValue?: { value: unknown; reason: string };
  /** Known to the parser but refused in a configuration file (storeMongodOptions), with why. */
  refusedInFile?: string;
  /**
   * Fixed when the data files are made: a running cluster's may not change (mongod refuses).
   * The value is the default, what an unset option means.
   */
  fixedAtInit?: { default: unknown };
}

/**
 * Whether `o` exists in `version` ("7.0.14", "7.0"): added in or before its series, and not
 * removed in or before it. Without a version: every option of the table.
 */
export function optionInVersion(o: OptionSpec, version: string | undefined): boolean {
  if (!version) return true;
  const series = (v: string) => v.split(".").slice(0, 2).map(Number);
  const before = (x: number[], y: number[]) => x[0] < y[0] || (x[0] === y[0] && x[1] < y[1]);
  const v = series(version);
  if (o.addedIn && before(v, series(o.addedIn))) return false;
  return !o.removedIn || before(v, series(o.removedIn));
}

/**
 * A number as the server reads an option's text (parseNumberFromString, base detected): `0x1f`
 * hexadecimal, a leading 0 octal (`0700` is 448), else decimal; NaN when it is none of them.
 */
export function parseServerInt(text: string): number {
  const m = /^([+-]?)(0x[0-9a-f]+|0[0-7]*|[1-9]\d*)$/i.exec(text.trim());
  if (!m) return NaN;
  const body = m[2];
  const n = /^0x/i.test(body)
    ? parseInt(body.slice(2), 16)
    : body.length > 1
    ? parseInt(body, 8)
    : parseInt(body, 10);
  return m[1] === "-" ? -n : n;
}

/** The int options' range: the server reads them as a C++ int. */
export const INT_MIN = -(2 ** 31);
export const INT_MAX = 2 ** 31 - 1;

const D: "mongod"[] = ["mongod"];
const S: "mongos"[] = ["mongos"];
const COMPRESSORS = ["none", "snappy", "zlib", "zstd"];

/** TLS options (net.tls.*) with their deprecated net.ssl.* / --ssl* names. */
function tls(key: string, type: OptionType, cli: string, oldKey?: string): OptionSpec[] {
  const rows: OptionSpec[] = [{ yaml: `net.tls.${key}`, cli: [cli], type }];
  if (oldKey) rows.push({ yaml: `net.ssl.${oldKey}`, cli: [cli.replace(/^tls/, "ssl")], type });
  return rows;
}

export const OPTIONS: OptionSpec[] = [
  // General
  { cli: ["help", "h"], type: "switch", acted: true },
  { cli: ["version"], type: "switch", acted: true },
  { cli: ["config", "f"], type: "string", acted: true },
  { cli: ["configExpand"], type: "string" },
  { cli: ["configExpandTimeoutSecs"], type: "int" },
  { cli: ["outputConfig"], type: "switch", acted: true },
  { cli: ["verbose", "v"], type: "string", implicit: "v" },
  ...Array.from({ length: 11 }, (_, i): OptionSpec => ({
    cli: ["v".repeat(i + 2)],
    type: "switch",
  })),
  { yaml: "systemLog.verbosity", type: "int", min: 0 },
  { yaml: "systemLog.quiet", cli: ["quiet"], type: "switch" },
  { yaml: "systemLog.path", cli: ["logpath"], type: "string", acted: true },
  { yaml: "systemLog.destination", type: "string", choices: ["file", "syslog"], acted: true },
  {
    cli: ["syslog"],
    type: "switch",
    sets: ["systemLog.destination", "syslog"],
    acted: true,
    conflicts: ["logpath"],
  },
  { yaml: "systemLog.syslogFacility", cli: ["syslogFacility"], type: "string" },
  { yaml: "systemLog.logAppend", cli: ["logappend"], type: "switch", acted: true },
  {
    yaml: "systemLog.logRotate",
    cli: ["logRotate"],
    type: "string",
    choices: ["rename", "reopen"],
  },
  {
    yaml: "systemLog.timeStampFormat",
    cli: ["timeStampFormat"],
    type: "string",
    choices: ["iso8601-utc", "iso8601-local"],
  },
  { yaml: "systemLog.traceAllExceptions", cli: ["traceExceptions"], type: "switch" },
  { yaml: "systemLog.component", type: "map" },
  { yaml: "setParameter", cli: ["setParameter"], type: "map" },
  // Net
  { yaml: "net.port", cli: ["port"], type: "int", min: 0, max: 65535, acted: true },
  {
    yaml: "net.bindIp",
    cli: ["bind_ip"],
    type: "string",
    acted: true,
    conflicts: ["bind_ip_all"],
  },
  { yaml: "net.bindIpAll", cli: ["bind_ip_all"], type: "switch", acted: true },
  { yaml: "net.ipv6", cli: ["ipv6"], type: "switch" },
  { yaml: "net.listenBacklog", cli: ["listenBacklog"], type: "int" },
  // "maxConns has to be at least 5" (server_options_server_helpers.cpp)
  { yaml: "net.maxIncomingConnections", cli: ["maxConns"], type: "int", min: 5 },
  { yaml: "net.maxIncomingConnectionsOverride", type: "list" },
  { yaml: "net.reservedAdminThreads", type: "int" },
  { yaml: "net.unixDomainSocket.enabled", type: "bool" },
  { cli: ["nounixsocket"], type: "switch", sets: ["net.unixDomainSocket.enabled", false] },
  { yaml: "net.unixDomainSocket.pathPrefix", cli: ["unixSocketPrefix"], type: "string" },
  { yaml: "net.unixDomainSocket.filePermissions", cli: ["filePermissions"], type: "int" },
  { yaml: "net.wireObjectCheck", type: "bool" },
  {
    cli: ["objcheck"],
    type: "switch",
    sets: ["net.wireObjectCheck", true],
    conflicts: ["noobjcheck"],
  },
  {
    cli: ["noobjcheck"],
    type: "switch",
    sets: ["net.wireObjectCheck", false],
    conflicts: ["objcheck"],
  },
  {
    yaml: "net.compression.compressors",
    cli: ["networkMessageCompressors"],
    type: "string",
    implicit: "disabled",
  },
  { yaml: "net.transportLayer", type: "string", choices: ["asio"] },
  // Net: TLS (util/net/ssl_options_server.idl, deprecated net.ssl.* aliases)
  { cli: ["tlsOnNormalPorts"], type: "switch" },
  { cli: ["sslOnNormalPorts"], type: "switch" },
  {
    yaml: "net.tls.mode",
    cli: ["tlsMode"],
    type: "string",
    choices: ["disabled", "allowTLS", "preferTLS", "requireTLS"],
    acted: true,
  },
  {
    yaml: "net.ssl.mode",
    cli: ["sslMode"],
    type: "string",
    choices: ["disabled", "allowSSL", "preferSSL", "requireSSL"],
  },
  ...tls("certificateKeyFile", "string", "tlsCertificateKeyFile", "PEMKeyFile").map((r) => ({
    ...r,
    acted: true,
  })),
  ...tls("certificateKeyFilePassword", "string", "tlsCertificateKeyFilePassword", "PEMKeyPassword"),
  ...tls("clusterFile", "string", "tlsClusterFile", "clusterFile"),
  ...tls("clusterPassword", "string", "tlsClusterPassword", "clusterPassword"),
  ...tls("CAFile", "string", "tlsCAFile", "CAFile").map((r) => ({ ...r, acted: true })),
  ...tls("clusterCAFile", "string", "tlsClusterCAFile", "clusterCAFile"),
  ...tls("CRLFile", "string", "tlsCRLFile", "CRLFile"),
  ...tls("tlsCipherConfig", "string", "tlsCipherConfig", "sslCipherConfig"),
  ...tls("disabledProtocols", "string", "tlsDisabledProtocols", "disabledProtocols"),
  ...tls(
    "allowConnectionsWithoutCertificates",
    "switch",
    "tlsAllowConnectionsWithoutCertificates",
    "allowConnectionsWithoutCertificates",
  ),
  {
    yaml: "net.tls.weakCertificateValidation",
    cli: ["tlsWeakCertificateValidation"],
    type: "switch",
  },
  {
    yaml: "net.ssl.weakCertificateValidation",
    cli: ["sslWeakCertificateValidation"],
    type: "switch",
  },
  ...tls("allowInvalidHostnames", "switch", "tlsAllowInvalidHostnames", "allowInvalidHostnames"),
  ...tls(
    "allowInvalidCertificates",
    "switch",
    "tlsAllowInvalidCertificates",
    "allowInvalidCertificates",
  ),
  ...tls("FIPSMode", "switch", "tlsFIPSMode", "FIPSMode"),
  ...tls("logVersions", "string", "tlsLogVersions"),
  // New in 7.0 (MongoDB manual: net.tls.clusterAuthX509).
  {
    yaml: "net.tls.clusterAuthX509.attributes",
    cli: ["clusterAuthX509Attributes"],
    type: "string",
    addedIn: "7.0",
  },
  { yaml: "net.tls.clusterAuthX509.extensionValue", type: "string", addedIn: "7.0" },
  // Process management
  { yaml: "processManagement.fork", cli: ["fork"], type: "switch", acted: true },
  { yaml: "processManagement.pidFilePath", cli: ["pidfilepath"], type: "string", acted: true },
  { yaml: "processManagement.timeZoneInfo", cli: ["timeZoneInfo"], type: "string" },
  // Security
  { yaml: "security.keyFile", cli: ["keyFile"], type: "string", acted: true },
  {
    yaml: "security.authorization",
    type: "string",
    choices: ["enabled", "disabled"],
    roles: D,
    acted: true,
  },
  {
    cli: ["auth"],
    type: "switch",
    sets: ["security.authorization", "enabled"],
    roles: D,
    acted: true,
    conflicts: ["noauth"],
  },
  {
    cli: ["noauth"],
    type: "switch",
    sets: ["security.authorization", "disabled"],
    acted: true,
    conflicts: ["auth", "keyFile", "transitionToAuth", "clusterAuthMode"],
  },
  { yaml: "security.transitionToAuth", cli: ["transitionToAuth"], type: "switch" },
  {
    yaml: "security.clusterAuthMode",
    cli: ["clusterAuthMode"],
    type: "string",
    choices: ["keyFile", "sendKeyFile", "sendX509", "x509"],
  },
  { yaml: "security.clusterIpSourceAllowlist", cli: ["clusterIpSourceAllowlist"], type: "list" },
  { yaml: "security.clusterIpSourceWhitelist", cli: ["clusterIpSourceWhitelist"], type: "list" },
  { yaml: "security.javascriptEnabled", type: "bool" },
  { cli: ["noscripting"], type: "switch", sets: ["security.javascriptEnabled", false] },
  // Parsed, then refused in a file: "… is currently not supported in config files".
  {
    yaml: "security.authSchemaVersion",
    type: "string",
    roles: D,
    refusedInFile: "security.authSchemaVersion is currently not supported in config files",
  },
  {
    yaml: "security.enableLocalhostAuthBypass",
    type: "string",
    roles: D,
    refusedInFile:
      "security.enableLocalhostAuthBypass is currently not supported in config files " +
      "(setParameter enableLocalhostAuthBypass is the way)",
  },
  { yaml: "security.sasl.hostName", type: "string" },
  { yaml: "security.sasl.serviceName", type: "string" },
  { yaml: "security.sasl.saslauthdSocketPath", type: "string" },
  // Operation profiling and diagnostics
  {
    yaml: "operationProfiling.mode",
    type: "string",
    choices: ["off", "slowOp", "all"],
    roles: D,
  },
  { cli: ["profile"], type: "int", min: 0, max: 2, roles: D },
  { yaml: "operationProfiling.slowOpThresholdMs", cli: ["slowms"], type: "int" },
  {
    yaml: "operationProfiling.slowOpSampleRate",
    cli: ["slowOpSampleRate"],
    type: "double",
    min: 0,
    max: 1,
  },
  // server_options_nongeneral.idl: mongos takes it too (its slow-operation log).
  { yaml: "operationProfiling.filter", type: "string" },
  { cli: ["cpu"], type: "switch", roles: D },
  {
    cli: ["sysinfo"],
    type: "switch",
    roles: D,
    refused: "it prints the host's system information and exits",
  },
  { cli: ["notablescan"], type: "switch", roles: D },
  { cli: ["shutdown"], type: "switch", roles: D, acted: true },
  // Free monitoring (6.0; the service was retired, the options remain accepted)
  {
    yaml: "cloud.monitoring.free.state",
    cli: ["enableFreeMonitoring"],
    type: "string",
    choices: ["on", "off", "runtime"],
    roles: D,
  },
  { yaml: "cloud.monitoring.free.tags", cli: ["freeMonitoringTag"], type: "list", roles: D },
  // Storage
  { yaml: "storage.dbPath", cli: ["dbpath"], type: "string", roles: D, acted: true },
  {
    yaml: "storage.engine",
    cli: ["storageEngine"],
    type: "string",
    roles: D,
    fixedAtInit: { default: "wiredTiger" },
  },
  {
    yaml: "storage.directoryPerDB",
    cli: ["directoryperdb"],
    type: "switch",
    roles: D,
    fixedAtInit: { default: false },
  },
  {
    yaml: "storage.syncPeriodSecs",
    cli: ["syncdelay"],
    type: "double",
    min: 0,
    max: 9 * 60 * 60,
    roles: D,
  },
  {
    yaml: "storage.journal.commitIntervalMs",
    cli: ["journalCommitInterval"],
    type: "int",
    min: 1,
    max: 500,
    roles: D,
  },
  // Journaling is always on from 6.1: the options are gone (MongoDB 6.1 release notes).
  {
    yaml: "storage.journal.enabled",
    cli: ["journal", "dur"],
    type: "switch",
    roles: D,
    removedIn: "6.1",
  },
  {
    cli: ["nojournal", "nodur"],
    type: "switch",
    sets: ["storage.journal.enabled", false],
    roles: D,
    removedIn: "6.1",
  },
  {
    cli: ["upgrade"],
    type: "switch",
    roles: D,
    refused: "it upgrades the data files' format and exits",
  },
  {
    cli: ["repair"],
    type: "switch",
    roles: D,
    refused: "it repairs the data files and exits",
  },
  {
    yaml: "storage.oplogMinRetentionHours",
    cli: ["oplogMinRetentionHours"],
    type: "double",
    min: 0,
    roles: D,
  },
  { yaml: "storage.queryableBackupMode", cli: ["queryableBackupMode"], type: "switch", roles: D },
  { yaml: "storage.groupCollections", cli: ["groupCollections"], type: "switch", roles: D },
  // Storage: WiredTiger
  {
    yaml: "storage.wiredTiger.engineConfig.cacheSizeGB",
    cli: ["wiredTigerCacheSizeGB"],
    type: "double",
    min: 0.25,
    max: 10000,
    roles: D,
  },
  {
    yaml: "storage.wiredTiger.engineConfig.statisticsLogDelaySecs",
    cli: ["wiredTigerStatisticsLogDelaySecs"],
    type: "int",
    min: 0,
    max: 100000,
    roles: D,
  },
  {
    yaml: "storage.wiredTiger.engineConfig.zstdCompressionLevel",
    cli: ["zstdDefaultCompressionLevel"],
    type: "int",
    min: -7,
    max: 22,
    roles: D,
  },
  {
    yaml: "storage.wiredTiger.engineConfig.journalCompressor",
    cli: ["wiredTigerJournalCompressor"],
    type: "string",
    choices: COMPRESSORS,
    roles: D,
  },
  {
    yaml: "storage.wiredTiger.engineConfig.directoryForIndexes",
    cli: ["wiredTigerDirectoryForIndexes"],
    type: "switch",
    roles: D,
    fixedAtInit: { default: false },
  },
  {
    yaml: "storage.wiredTiger.engineConfig.maxCacheOverflowFileSizeGB",
    cli: ["wiredTigerMaxCacheOverflowFileSizeGB"],
    type: "double",
    roles: D,
  },
  {
    yaml: "storage.wiredTiger.engineConfig.configString",
    cli: ["wiredTigerEngineConfigString"],
    type: "string",
    roles: D,
  },
  {
    yaml: "storage.wiredTiger.collectionConfig.blockCompressor",
    cli: ["wiredTigerCollectionBlockCompressor"],
    type: "string",
    choices: COMPRESSORS,
    roles: D,
  },
  {
    yaml: "storage.wiredTiger.collectionConfig.configString",
    cli: ["wiredTigerCollectionConfigString"],
    type: "string",
    roles: D,
  },
  {
    yaml: "storage.wiredTiger.indexConfig.prefixCompression",
    cli: ["wiredTigerIndexPrefixCompression"],
    type: "bool",
    roles: D,
  },
  {
    yaml: "storage.wiredTiger.indexConfig.configString",
    cli: ["wiredTigerIndexConfigString"],
    type: "string",
    roles: D,
  },
  // Replication
  // "bad --oplogSize, arg must be greater than 0"
  { yaml: "replication.oplogSizeMB", cli: ["oplogSize"], type: "int", min: 1, roles: D },
  { yaml: "replication.replSetName", type: "string", roles: D, acted: true },
  {
    yaml: "replication.replSet",
    cli: ["replSet"],
    cliOnly: true,
    type: "string",
    roles: D,
    acted: true,
  },
  {
    yaml: "replication.enableMajorityReadConcern",
    cli: ["enableMajorityReadConcern"],
    type: "bool",
    implicit: true,
    roles: D,
    // MongoDB 5.0+: the option stays, always true; false stops the server at startup.
    refusedValue: {
      value: false,
      reason: "enableMajorityReadConcern:false is no longer supported",
    },
  },
  { cli: ["master"], type: "switch", roles: D },
  { cli: ["slave"], type: "switch", roles: D },
  {
    yaml: "replication.localPingThresholdMs",
    cli: ["localThreshold"],
    type: "int",
    roles: S,
  },
  // Sharding
  {
    yaml: "sharding.clusterRole",
    type: "string",
    choices: ["configsvr", "shardsvr"],
    roles: D,
    acted: true,
  },
  {
    cli: ["configsvr"],
    type: "switch",
    sets: ["sharding.clusterRole", "configsvr"],
    roles: D,
    acted: true,
    conflicts: ["shardsvr", "nojournal"],
  },
  {
    cli: ["shardsvr"],
    type: "switch",
    sets: ["sharding.clusterRole", "shardsvr"],
    roles: D,
    acted: true,
  },
  { yaml: "sharding.archiveMovedChunks", type: "bool", roles: D },
  {
    cli: ["moveParanoia"],
    type: "switch",
    sets: ["sharding.archiveMovedChunks", true],
    roles: D,
    conflicts: ["noMoveParanoia"],
  },
  {
    cli: ["noMoveParanoia"],
    type: "switch",
    sets: ["sharding.archiveMovedChunks", false],
    roles: D,
  },
  { yaml: "sharding.configDB", cli: ["configdb"], type: "string", roles: S, acted: true },
  { cli: ["test"], type: "switch", roles: S, refused: "it runs its unit tests and exits" },
];

/** Lookup tables built once from OPTIONS. */
export const BY_CLI = new Map<string, OptionSpec>();
export const BY_YAML = new Map<string, OptionSpec>();
for (const o of OPTIONS) {
  for (const c of o.cli ?? []) BY_CLI.set(c, o);
  if (o.yaml && !o.cliOnly) BY_YAML.set(o.yaml, o);
}

/** The key an option is stored under once parsed (what getCmdLineOpts reports). */
export function canonicalKey(o: OptionSpec): string {
  return o.sets?.[0] ?? o.yaml ?? o.cli![0];
}
