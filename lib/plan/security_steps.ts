/**
 * The security operations of a deploy (topology `global.security`): secrets generated on the
 * control machine, the keyfile installed on every host, the first user created on each replica
 * set (and through mongos). Pure, like the rest of the planner; the plan names secrets by
 * reference (security/settings.ts SECRET), never by value.
 */
import { addressHost, hostKey, hostPort } from "../topology/hosts.ts";
import {
  certRef,
  hostCaPath,
  hostCertPath,
  hostKeyfilePath,
  SECRET,
} from "../security/settings.ts";
import type { ProcessSpec } from "./processes.ts";
import type { PlannedOperation } from "./schema.ts";
import { alsoNamed, sameMachine, type StepContext } from "./deploy_steps.ts";
import { change, op, processTarget } from "./op_builders.ts";

const EST = { secret: 50, upload: 300, createUser: 1_000, cert: 300 };

export const keyfileUploadId = (host: string) => `upload-keyfile-${hostKey(host)}`;
const caUploadId = (host: string) => `upload-ca-${hostKey(host)}`;
const certUploadId = (processId: string) => `upload-cert-${processId}`;
const createUserId = (name: string) => `create-user-${name}`;

/**
 * Prepare-phase operations: the keyfile and the admin password generated into the secrets store
 * (each done once: a re-deploy finds them), then the keyfile uploaded to every host (0400).
 */
export function secretOps(c: StepContext): PlannedOperation[] {
  return [...keyfileOps(c), ...tlsOps(c)];
}

function keyfileOps(c: StepContext): PlannedOperation[] {
  if (!c.security.auth) return [];
  const { input } = c;
  const cluster = { type: "cluster" as const, name: input.clusterName };
  // Retained data: the secrets its users were made with, from the destroy's archive.
  const kept = input.retainedSecrets;
  const keyfileSource = c.security.keyfile ?? kept?.keyfile;
  const made = new Set(input.existingSecrets ?? []);
  const ops: PlannedOperation[] = [
    op({
      id: "secret-keyfile",
      type: "generate_secret",
      description: c.security.keyfile
        ? `Copy the keyfile ${c.security.keyfile} into the cluster's secrets`
        : kept?.keyfile
        ? `Reuse the keyfile kept in ${kept.archive} (retained data)`
        : made.has(SECRET.keyfile)
        ? "Keep the cluster's keyfile (an earlier attempt made it)"
        : "Generate the cluster's keyfile (internal authentication)",
      target: {
        ...cluster,
        params: {
          secret: SECRET.keyfile,
          ...(keyfileSource ? { source: keyfileSource } : {}),
        },
      },
      changes: [
        change("secret", SECRET.keyfile, made.has(SECRET.keyfile) && !kept ? "none" : "create"),
      ],
      depends_on: [],
      estimated_ms: EST.secret,
    }),
    op({
      id: "secret-admin",
      type: "generate_secret",
      description: kept
        ? `Reuse the password of ${c.security.adminUser} kept in ${kept.archive} (retained data)`
        : made.has(SECRET.admin)
        ? `Keep the password of ${c.security.adminUser} (an earlier attempt made it)`
        : `Generate the password of ${c.security.adminUser}`,
      target: {
        ...cluster,
        params: {
          secret: SECRET.admin,
          user: c.security.adminUser,
          ...(kept ? { source: kept.admin } : {}),
        },
      },
      changes: [
        change("secret", SECRET.admin, made.has(SECRET.admin) && !kept ? "none" : "create"),
      ],
      depends_on: [],
      estimated_ms: EST.secret,
    }),
  ];
  const dest = hostKeyfilePath(c.deployRoot);
  for (const host of c.hosts) {
    ops.push(op({
      id: keyfileUploadId(host),
      type: "upload_file",
      description: `Install the keyfile on ${host}${alsoNamed(sameMachine(host, c.procs))}`,
      target: {
        type: "host",
        name: host,
        host,
        params: { kind: "file", secret: SECRET.keyfile, dest, mode: "0400" },
      },
      changes: [change("file", `${addressHost(host)}:${dest}`, "create")],
      depends_on: ["secret-keyfile"],
      estimated_ms: EST.upload,
    }));
  }
  return ops;
}

/**
 * TLS (global.security.tls): the cluster CA and one certificate per process made on the control
 * machine with openssl (security/tls.ts), installed on the hosts with mode 0400.
 */
function tlsOps(c: StepContext): PlannedOperation[] {
  if (!c.security.tls) return [];
  return certificateOps({ ...c, clusterName: c.input.clusterName });
}

/**
 * The CA, every process's certificate, and their installation on the hosts: the deploy's
 * operations, which `mup cluster tls enable` plans too (each done when its file is in place).
 */
export function certificateOps(
  c: Pick<StepContext, "hosts" | "procs" | "deployRoot"> & { clusterName: string },
): PlannedOperation[] {
  const cluster = { type: "cluster" as const, name: c.clusterName };
  const ops: PlannedOperation[] = [op({
    id: "secret-ca",
    type: "generate_secret",
    description: "Create the cluster's certificate authority (openssl)",
    target: { ...cluster, params: { secret: SECRET.ca } },
    changes: [change("secret", SECRET.ca, "create")],
    depends_on: [],
    estimated_ms: EST.cert,
  })];
  for (const host of c.hosts) {
    const dest = hostCaPath(c.deployRoot);
    ops.push(op({
      id: caUploadId(host),
      type: "upload_file",
      description: `Install the cluster CA certificate on ${host}`,
      target: {
        type: "host",
        name: host,
        host,
        params: { kind: "file", secret: SECRET.ca, dest, mode: "0400" },
      },
      changes: [change("file", `${addressHost(host)}:${dest}`, "create")],
      depends_on: ["secret-ca"],
      estimated_ms: EST.upload,
    }));
  }
  for (const p of c.procs) {
    const ref = certRef(p.id);
    const dest = hostCertPath(c.deployRoot, p.id);
    ops.push(
      op({
        id: `secret-cert-${p.id}`,
        type: "generate_secret",
        description: `Create the TLS certificate of ${p.id}`,
        target: { ...cluster, params: { secret: ref, host: p.host } },
        changes: [change("secret", ref, "create")],
        depends_on: ["secret-ca"],
        estimated_ms: EST.cert,
      }),
      op({
        id: certUploadId(p.id),
        type: "upload_file",
        description: `Install the TLS certificate of ${p.id}`,
        target: processTarget(p, { kind: "file", secret: ref, dest, mode: "0400" }),
        changes: [change("file", `${addressHost(p.host)}:${dest}`, "create")],
        depends_on: [`secret-cert-${p.id}`],
        estimated_ms: EST.upload,
      }),
    );
  }
  return ops;
}

/**
 * Wires the security operations into the deploy: every process starts after its host has the
 * keyfile; the first user is created on each replica set once it is initiated (a standalone once
 * it answers), and, in a sharded cluster, through mongos (kept by the config servers) before the
 * shards are added, as MongoDB's tutorial does. Shards get their own user too (MongoDB docs:
 * shard-local users), each before its shard is added, so no shard is left open to the localhost
 * exception. Mutates `deploy` and `initialize`.
 */
export function wireSecurity(
  c: StepContext,
  deploy: PlannedOperation[],
  initialize: PlannedOperation[],
): void {
  for (const o of [...deploy, ...initialize]) {
    if (o.type !== "start_process") continue;
    if (c.security.auth) o.depends_on.push(keyfileUploadId(o.target.host!));
    if (c.security.tls) o.depends_on.push(caUploadId(o.target.host!), certUploadId(o.target.name));
  }
  if (!c.security.auth) return;
  const userOp = (
    name: string,
    at: ProcessSpec,
    members: ProcessSpec[],
    via: string,
    deps: string[],
    description: string,
  ) =>
    op({
      id: createUserId(name),
      type: "create_user",
      description,
      target: {
        ...processTarget(at, {
          user: c.security.adminUser,
          secret: SECRET.admin,
          via,
          members: JSON.stringify(members.map((m) => hostPort(m.host, m.port))),
        }),
        timeout_ms: c.input.waitTimeoutMs ?? 60_000,
        type: via === "replica_set" ? "replica_set" as const : "process" as const,
        name: via === "replica_set" ? name : at.id,
      },
      changes: [change("user", `admin.${c.security.adminUser}@${name}`, "create")],
      depends_on: ["secret-admin", ...deps],
      estimated_ms: EST.createUser,
    });
  const users: PlannedOperation[] = [];
  if (c.kind === "standalone") {
    for (const p of c.procs) {
      users.push(
        userOp(
          p.id,
          p,
          [p],
          "standalone",
          [`wait-${p.id}`],
          `Create ${c.security.adminUser} on ${p.id}`,
        ),
      );
    }
  }
  for (const s of c.sets.filter((x) => !x.configsvr)) {
    users.push(userOp(
      s.name,
      s.members[0],
      s.members,
      "replica_set",
      [`init-rs-${s.name}`],
      `Create ${c.security.adminUser} on ${s.name}${c.kind === "sharded" ? " (shard-local)" : ""}`,
    ));
  }
  if (c.kind === "sharded") {
    const router = c.procs.find((p) => p.role === "mongos")!;
    const cluster = userOp(
      "cluster",
      router,
      [router],
      "mongos",
      [`wait-${router.id}`, `init-rs-${c.cfgSet!.name}`],
      `Create ${c.security.adminUser} through mongos (stored on the config servers)`,
    );
    users.push(cluster);
    // Each shard is added once its own user exists (MongoDB's tutorial creates the shard-local
    // user before adding the shard): no shard joins the cluster open to the localhost exception.
    for (const o of initialize) {
      if (o.type === "add_shard") o.depends_on.push(cluster.id, createUserId(o.target.name));
    }
  }
  initialize.push(...users);
}
