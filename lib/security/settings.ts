/**
 * A cluster's security settings (topology `global.security`) as the planner and the client use
 * them. Pure.
 */
import * as path from "node:path";
import { SecuritySection, type Topology } from "../topology/schema.ts";
import type { Plan } from "../plan/schema.ts";

/** The settings a cluster runs with. */
export interface Security {
  /** Keyfile internal authentication and access control. */
  auth: boolean;
  /** requireTLS with the cluster's CA. */
  tls: boolean;
  /** A keyfile of the user's own on the control machine (else mup generates one). */
  keyfile?: string;
  /** The first user's name (role root on admin). */
  adminUser: string;
}

/**
 * References a plan holds instead of secret values: the value lives in the cluster's secrets
 * store ($MUP_HOME/storage/clusters/<name>/secrets/) and is read when an operation runs.
 */
export const SECRET = {
  keyfile: "secret:keyfile",
  admin: "secret:admin",
  /** The cluster CA (certificate and key) that signs every process's certificate. */
  ca: "secret:ca",
} as const;
export type SecretRef = typeof SECRET[keyof typeof SECRET];

/**
 * The settings of a topology. A topology without `global.security` stands for a cluster
 * recorded before mup secured clusters (neither auth nor TLS); a new deploy fills the section
 * in with withSecurityDefaults() first, so the plan and the metadata always say what runs.
 */
export function securityOf(t: Pick<Topology, "global"> | undefined): Security {
  // Optional chaining: a partial plan (a test's stand-in) may carry no topology at all.
  const s = t?.global?.security;
  if (!s) return { auth: false, tls: false, adminUser: "admin" };
  return {
    auth: s.auth,
    tls: s.tls,
    adminUser: s.admin_user,
    ...(s.keyfile ? { keyfile: s.keyfile } : {}),
  };
}

/** The topology with `global.security` written out with its defaults (auth on, TLS off). */
export function withSecurityDefaults(t: Topology): Topology {
  return {
    ...t,
    global: { ...t.global, security: SecuritySection.parse(t.global.security ?? {}) },
  };
}

/**
 * The topology with `global.security.tls` set (`cluster tls`): a topology recorded without a
 * security section ran without auth, and keeps running without it.
 */
export function withTls(t: Topology, tls: boolean): Topology {
  const security = t.global.security ?? SecuritySection.parse({ auth: false });
  return { ...t, global: { ...t.global, security: { ...security, tls } } };
}

/**
 * The topology a plan leaves behind: its own, switched by a `cluster tls` plan's last
 * operation (update_metadata with `security_tls`).
 */
export function topologyAfter(plan: Pick<Plan, "topology" | "phases">): Topology {
  const tls = plan.phases.flatMap((p) => p.operations).find((o) =>
    o.type === "update_metadata" && o.target.params.security_tls !== undefined
  )?.target.params.security_tls;
  return tls === undefined ? plan.topology : withTls(plan.topology, tls === "true");
}

/** Where a host keeps the cluster's keyfile and TLS files (mode 0400), under its deploy root. */
export function hostSecretsDir(deployRoot: string): string {
  return path.join(deployRoot, "secrets");
}

export function hostKeyfilePath(deployRoot: string): string {
  return path.join(hostSecretsDir(deployRoot), "keyfile");
}

/** The cluster CA's certificate on a host (net.tls.CAFile). */
export function hostCaPath(deployRoot: string): string {
  return path.join(hostSecretsDir(deployRoot), "ca.pem");
}

/** A process's certificate and key on its host (net.tls.certificateKeyFile). */
export function hostCertPath(deployRoot: string, processId: string): string {
  return path.join(hostSecretsDir(deployRoot), `${processId}.pem`);
}

/** The reference of a process's certificate in the secrets store. */
export function certRef(processId: string): string {
  return `secret:cert:${processId}`;
}

/**
 * The address on a host's own loopback interface that reaches a process there: the host itself
 * when it is a loopback address, else 127.0.0.1 (or ::1 for an IPv6 host), which every process
 * of a secured cluster also listens on (mongo_config.ts), as MongoDB's localhost exception needs a
 * connection arriving on the loopback interface.
 */
export function loopbackAddress(host: string): string {
  const h = host.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  if (h === "localhost" || /^127\./.test(h) || h === "::1") return h;
  return h.includes(":") ? "::1" : "127.0.0.1";
}
