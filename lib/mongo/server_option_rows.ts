/**
 * The rows of server_options.ts's table (OPTIONS): every startup option of mongod and mongos
 * 6.0–8.0 (community), transcribed from the server's option definitions (see there). Kept apart
 * so that the module that reads the table stays short.
 */
import type { OptionSpec, OptionType } from "./server_options.ts";

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
