import { nodeFiles } from "../topology/layout.ts";
import { canonicalIPv6, isIPv6, socketHost } from "../topology/hosts.ts";
import { emitYaml } from "../util/yaml_emit.ts";
import {
  hostCaPath,
  hostCertPath,
  hostKeyfilePath,
  loopbackAddress,
  securityOf,
} from "../security/settings.ts";
import type { Topology } from "../topology/schema.ts";
import type { ProcessSpec } from "./processes.ts";
import { mergeConfig } from "./processes.ts";

export function configFilePath(p: ProcessSpec): string {
  return nodeFiles(p.dirs, p.role).config;
}
export function pidFilePath(p: ProcessSpec): string {
  return nodeFiles(p.dirs, p.role).pid;
}
export function logFilePath(p: ProcessSpec): string {
  return nodeFiles(p.dirs, p.role).log;
}

/** The security settings of one process's configuration (paths on its host). */
export interface ConfigSecurity {
  /** security.keyFile: internal authentication, and access control with it. */
  keyFile?: string;
  /**
   * net.tls: this certificate and CA, in `mode` (requireTLS unless given: allowTLS and preferTLS
   * are the steps of `mup cluster tls`).
   */
  tls?: {
    certificateKeyFile: string;
    CAFile: string;
    mode?: "allowTLS" | "preferTLS" | "requireTLS";
  };
}

/** A TLS mode a process's configuration file may name; "disabled" writes no net.tls. */
export const TLS_STEPS = ["disabled", "allowTLS", "preferTLS", "requireTLS"] as const;
export type TlsStep = typeof TLS_STEPS[number];

/**
 * The security settings mup writes into each configuration of a cluster with topology `t` (its
 * `global.security`) whose deploy root is `deployRoot`: the keyfile with auth, and the process's
 * certificate and the CA in `tls` mode (by default what the topology says: requireTLS with TLS,
 * none without; the other modes are the steps of `mup cluster tls`). A deploy, a repair,
 * `cluster tls` and the checks of what a configuration must say all take it from here.
 */
export function deployConfigSecurity(
  t: Pick<Topology, "global">,
  deployRoot: string,
  tls?: TlsStep,
): (p: Pick<ProcessSpec, "id">) => ConfigSecurity {
  const security = securityOf(t);
  const mode = tls ?? (security.tls ? "requireTLS" : "disabled");
  return (p) => ({
    ...(security.auth ? { keyFile: hostKeyfilePath(deployRoot) } : {}),
    ...(mode === "disabled" ? {} : {
      tls: {
        certificateKeyFile: hostCertPath(deployRoot, p.id),
        CAFile: hostCaPath(deployRoot),
        // requireTLS is the deploy's own configuration: written as a deploy writes it.
        ...(mode === "requireTLS" ? {} : { mode }),
      },
    }),
  });
}

/**
 * The mongod/mongos YAML configuration file for one process. Pure: the same inputs always give
 * the same bytes, so a config already on disk can be recognised by its content. With a keyfile
 * (MongoDB docs: "Deploy Self-Managed Replica Set With Keyfile Authentication"): security.keyFile
 * on every process, security.authorization: enabled on mongod (mongos has no such option; its
 * users live on the config servers), and the host's loopback address in net.bindIp, which the
 * localhost exception needs to create the first user.
 */
export function renderConfig(p: ProcessSpec, configDb?: string, sec: ConfigSecurity = {}): string {
  const net = p.runtimeConfig.net as Record<string, unknown> | undefined;
  const own = socketHost(p.host);
  const loop = loopbackAddress(p.host);
  // One address written two ways ("0:0:0:0:0:0:0:1" and "::1") is bound once: mongod binding
  // both fails to start (code 48, address in use).
  const address = (h: string) => canonicalIPv6(h) ?? h;
  const bindIp = sec.keyFile && address(socketHost(loop)) !== address(own)
    ? `${socketHost(loop)},${own}`
    : own;
  const { mode = "requireTLS", ...tlsFiles } = sec.tls ?? {};
  const base: Record<string, unknown> = {
    // mongod binds IPv6 addresses only with net.ipv6 (MongoDB docs: net.ipv6, net.bindIp), and
    // refuses net.bindIp beside net.bindIpAll.
    net: {
      port: p.port,
      ...(net?.bindIpAll === true ? {} : { bindIp }),
      ...(isIPv6(p.host) ? { ipv6: true } : {}),
      // Clients need not present a certificate (mup authenticates with SCRAM; members with the
      // keyfile): without this, a CAFile makes mongod demand one from every client.
      ...(sec.tls ? { tls: { mode, ...tlsFiles, allowConnectionsWithoutCertificates: true } } : {}),
    },
    systemLog: { destination: "file", path: logFilePath(p), logAppend: true },
    processManagement: { fork: true, pidFilePath: pidFilePath(p) },
  };
  if (p.role === "mongos") {
    base.sharding = { configDB: configDb };
  } else {
    base.storage = { dbPath: p.dirs.data };
    if (p.replicaSet) base.replication = { replSetName: p.replicaSet };
    if (p.role === "config") base.sharding = { clusterRole: "configsvr" };
    else if (configDb !== undefined) base.sharding = { clusterRole: "shardsvr" };
  }
  if (sec.keyFile) {
    base.security = {
      keyFile: sec.keyFile,
      ...(p.role === "mongos" ? {} : { authorization: "enabled" }),
    };
  }
  return "# Generated by mup. Edit the topology's runtime_config, not this file.\n" +
    emitYaml(mergeConfig(base, p.runtimeConfig));
}
