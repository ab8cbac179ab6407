/**
 * What a repair (a re-deploy of the recorded cluster as recorded) will write again. Its plan
 * re-runs every deploy operation, each done when its effect is in place; the review must not
 * say "re-check" of a file the apply will install again because it was deleted (a keyfile, a
 * configuration file, a certificate, a binary) or, for a configuration, replaced by other
 * content. The files are found on the hosts before planning (lib/plan/deploy.ts); here, purely,
 * which files a plan installs, and the plan marked with what was found. Pure.
 */
import * as path from "node:path";
import type { Plan, ValidationIssue } from "./schema.ts";
import type { ProcessSpec } from "./processes.ts";
import { check } from "./op_builders.ts";
import { addressHost, hostPort } from "../topology/hosts.ts";
import { configFilePath } from "./mongo_config.ts";
import { certRef, SECRET } from "../security/settings.ts";
import type { ClusterMeta } from "../state/meta.ts";

/** One file or directory a repair's operation installs on a host. */
export interface RepairFile {
  /** The operation that installs it. */
  op: string;
  host: string;
  /** The path on the host. */
  path: string;
  /** The change the operation records for it (`host:path`). */
  resource: string;
  /** For a generated configuration: the content it must have (else only its presence counts). */
  content?: string;
  /** For a binary: the sha256 the deploy recorded (ClusterMeta.binaries), when it did. */
  sha256?: string;
  /** For a file copied from the cluster's secrets store (keyfile, certificates): its reference. */
  secret?: string;
}

/**
 * A certificate a repair signs again: gone from the store (`missing`), not signed by the store's
 * CA (`unsigned`), or signed by it but not naming its process's host (`misnamed`).
 */
export interface CertificateToSign {
  id: string;
  found: "missing" | "unsigned" | "misnamed";
}

/** What was found of a RepairFile: missing, or (a configuration) with other content. */
export interface RepairFinding {
  op: string;
  path: string;
  found: "missing" | "differs";
  /**
   * What it is, when not a configuration: "binary" (not the one installed) or "secret" (not
   * the cluster's, from its secrets store). Says what it differs from.
   */
  what?: "binary" | "secret";
}

/**
 * The files and directories the host-side operations of a deploy plan install; a binary with
 * the sha256 `recorded` gives it (the deploy's record, ClusterMeta.binaries).
 */
export function repairFiles(
  plan: Pick<Plan, "phases">,
  recorded: { host: string; path: string; sha256: string }[] = [],
): RepairFile[] {
  const ops = plan.phases.flatMap((ph) => ph.operations);
  // generate_config writes its staged file from its content; upload_file copies that file.
  const staged = new Map(
    ops.filter((o) => o.type === "generate_config").map((o) => [
      String(o.target.params?.staged_path),
      String(o.target.params?.content),
    ]),
  );
  const out: RepairFile[] = [];
  for (const o of ops) {
    const host = o.target.host;
    const params = o.target.params ?? {};
    if (!host) continue;
    const file = (p: string, resource: string, content?: string) =>
      out.push({ op: o.id, host, path: p, resource, ...(content ? { content } : {}) });
    if (o.type === "create_directory") {
      for (const d of JSON.parse(String(params.paths ?? "[]")) as string[]) {
        file(d, `${addressHost(host)}:${d}`);
      }
    } else if (o.type === "upload_file" && params.kind === "binaries") {
      const dest = String(params.dest_dir);
      for (const f of String(params.files ?? "").split(",").filter(Boolean)) {
        const p = path.join(dest, "bin", f);
        const sha256 = recorded.find((b) => b.host === host && b.path === p)?.sha256;
        file(p, `${addressHost(host)}:${dest}`);
        if (sha256) out[out.length - 1].sha256 = sha256;
      }
    } else if (o.type === "upload_file" && params.dest) {
      const dest = String(params.dest);
      file(dest, `${addressHost(host)}:${dest}`, staged.get(String(params.source)));
      if (params.secret) out[out.length - 1].secret = String(params.secret);
    }
  }
  return out;
}

/**
 * Marks in a repair plan (every change "none" but the starts of what is down) each file found
 * missing or different: its operation's change gets back its action (create for a missing one,
 * update for a configuration with other content), and its description says why it runs:
 * "Install the keyfile on db1 again: /opt/mup/secrets/keyfile is missing". Mutates `plan`.
 */
export function markRepairFindings(
  plan: Pick<Plan, "phases">,
  files: RepairFile[],
  findings: RepairFinding[],
): void {
  const byOp = new Map<string, RepairFinding[]>();
  for (const f of findings) byOp.set(f.op, [...(byOp.get(f.op) ?? []), f]);
  const resourceOf = new Map(files.map((f) => [`${f.op} ${f.path}`, f.resource]));
  for (const o of plan.phases.flatMap((ph) => ph.operations)) {
    const found = byOp.get(o.id);
    if (!found) continue;
    const resources = new Map(
      found.map((f) => [resourceOf.get(`${o.id} ${f.path}`), f.found] as const),
    );
    o.changes = o.changes.map((c) => {
      const f = resources.get(c.resource_id);
      return f ? { ...c, action: f === "missing" ? "create" : "update" } : c;
    });
    o.description = `${o.description} again: ${describe(found)}`;
  }
}

/**
 * Marks a repair's signing of each certificate in `signs` (gone from the store, or one its CA
 * did not sign) and its installation as changes, saying why, so the review lists them rather
 * than counting them among the re-checks. Mutates `plan`.
 */
export function markResigned(
  plan: Pick<Plan, "phases">,
  signs: readonly CertificateToSign[],
): void {
  // Both the signing and the installation name the certificate's reference (params.secret).
  const why = new Map(signs.map((s) => [
    certRef(s.id),
    s.found === "missing"
      ? "it is missing from mup's store"
      : s.found === "misnamed"
      ? "the store's does not name its host"
      : "the store's does not verify against the cluster's CA",
  ]));
  for (const o of plan.phases.flatMap((ph) => ph.operations)) {
    const reason = ["generate_secret", "upload_file"].includes(o.type)
      ? why.get(String(o.target.params?.secret ?? ""))
      : undefined;
    if (!reason) continue;
    o.changes = o.changes.map((c) => ({ ...c, action: "update" }));
    if (!o.description.includes(" again: ")) o.description += ` again: ${reason}`;
  }
}

/**
 * The refusal of a repair whose store holds another CA than the cluster's: no process's
 * certificate in the store verifies against the store's CA (some may be missing from it, not
 * all), and the hosts' ca.pem is not the
 * store's. The store's CA (certificate and key) was replaced; the repair would install it over
 * the hosts' and sign every certificate with it, which neither the running members nor the
 * clients trust. As a CA gone from the store is refused (lost_secrets.ts), so is this one.
 * Undefined when the store's CA signed any certificate there, or the hosts hold its ca.pem.
 */
export function replacedCaIssue(
  meta: Pick<ClusterMeta, "name" | "processes">,
  signs: readonly CertificateToSign[],
  findings: RepairFinding[],
  files: RepairFile[],
  /** The store's ca.pem and ca.key. */
  store: { ca: string; caKey: string },
): ValidationIssue | undefined {
  // Certificates gone from the store say nothing either way; every one left must fail.
  const unsigned = signs.filter((s) => s.found === "unsigned").length;
  const missing = signs.filter((s) => s.found === "missing").length;
  if (!unsigned || unsigned + missing < meta.processes.length) return undefined;
  const hostCa = findings.find((f) =>
    f.found === "differs" &&
    files.some((x) => x.op === f.op && x.path === f.path && x.secret === SECRET.ca)
  );
  if (!hostCa) return undefined;
  const host = files.find((x) => x.op === hostCa.op && x.path === hostCa.path)!.host;
  return caReplacedIssue(meta.name, { host, path: hostCa.path }, store);
}

/**
 * The error `ca_replaced`: the store's CA pair is not the one the cluster's members trust (none
 * of the store's certificates verifies against it; the hosts' ca.pem at `hostCa`, when known,
 * is another), with the way back: the pair from a backup, or the hosts' certificate and a new
 * CA made by `cluster tls disable` then `enable`.
 */
export function caReplacedIssue(
  cluster: string,
  hostCa: { host: string; path: string } | undefined,
  store: { ca: string; caKey: string },
): ValidationIssue {
  return {
    code: "ca_replaced",
    severity: "error",
    message: `the CA in mup's store is not the cluster's: none of its processes' certificates ` +
      `there verifies against it${
        hostCa ? `, and the hosts' ${hostCa.path} is another one` : ""
      }. The store's ca.pem and ca.key were replaced; a repair would install them over the ` +
      "hosts' and sign every certificate with them, which neither the running members nor " +
      "their clients trust. Put the cluster's CA pair back from a backup of $MUP_HOME. " +
      `Without one, copy the hosts' certificate (${
        hostCa ? `${hostCa.host}:${hostCa.path}` : "ca.pem in a member's secrets directory"
      }, the cluster's) over ${store.ca} and remove ${store.caKey} (not that certificate's ` +
      "key): the cluster then runs as one whose CA key is lost, and `mup cluster tls " +
      `${cluster} disable\` then \`mup cluster tls ${cluster} enable\` give it a new CA`,
  };
}

/**
 * "/a is missing", "/a and /b are missing", "/c differs from the plan's", "/bin/mongod is not the
 * one installed".
 */
function describe(found: RepairFinding[]): string {
  const missing = found.filter((f) => f.found === "missing").map((f) => f.path);
  const differs = found.filter((f) => f.found === "differs" && !f.what).map((f) => f.path);
  const replaced = found.filter((f) => f.found === "differs" && f.what === "binary")
    .map((f) => f.path);
  const foreign = found.filter((f) => f.found === "differs" && f.what === "secret")
    .map((f) => f.path);
  return [
    ...(missing.length
      ? [`${missing.join(", ")} ${missing.length === 1 ? "is" : "are"} missing`]
      : []),
    ...(differs.length
      ? [`${differs.join(", ")} ${differs.length === 1 ? "differs" : "differ"} from the plan's`]
      : []),
    ...(replaced.length
      ? [
        `${replaced.join(", ")} ${
          replaced.length === 1 ? "is not the one" : "are not the ones"
        } installed`,
      ]
      : []),
    ...(foreign.length
      ? [`${foreign.join(", ")} ${foreign.length === 1 ? "is" : "are"} not the cluster's`]
      : []),
  ].join("; ");
}

/**
 * Says on the start of each member in `resync` (process ID → the members it copies from) that
 * its data directory is empty and that it will copy its data from its set (initial sync), so the
 * review's start line tells the operator what the start does. Mutates `plan`.
 */
export function markResync(plan: Pick<Plan, "phases">, resync: ReadonlyMap<string, string>): void {
  for (const o of plan.phases.flatMap((ph) => ph.operations)) {
    const from = o.type === "start_process" ? resync.get(o.target.name) : undefined;
    if (from) o.description += ` (empty data directory: initial sync from ${from})`;
  }
}

/**
 * Gives the start of each data-bearing process of `procs` (mongod, config servers) a safety
 * check `data_present` (lib/apply/safety.ts): when the start runs, its data directory still holds
 * data, or another data-bearing member of its replica set does (it copies from there). A plan
 * saved earlier and applied after the data was removed is then stopped before the start, as
 * pre-flight refuses it when planning. For repairs and lifecycle plans, never a first deploy
 * (whose directories are empty by design). Mutates `plan`.
 */
export function guardStarts(plan: Pick<Plan, "phases">, procs: ProcessSpec[]): void {
  const byId = new Map(procs.filter((p) => p.role !== "mongos").map((p) => [p.id, p]));
  for (const o of plan.phases.flatMap((ph) => ph.operations)) {
    const p = o.type === "start_process" ? byId.get(o.target.name) : undefined;
    if (!p || o.pre_conditions.some((c) => c.check_type === "data_present")) continue;
    const others = p.replicaSet
      ? procs.filter((q) =>
        q.replicaSet === p.replicaSet && q.role === p.role && q.id !== p.id && !q.arbiterOnly
      )
      : [];
    o.pre_conditions.push(
      check(`${o.id}:data`, "data_present", p.host, "its data, or its replica set's, is in place", {
        host: p.host,
        path: p.dirs.data,
        process: p.id,
        ...(p.replicaSet ? { replica_set: p.replicaSet } : {}),
        others: others.map((q) => ({ host: q.host, path: q.dirs.data })),
      }),
    );
  }
}

/**
 * A repair's warnings when it puts the cluster's keyfile, CA certificate or a member's
 * certificate back over one changed on a host while the cluster runs: each member read its
 * files when it started, so any started since the change runs with the other one, and the
 * repair alone does not move it back. The keyfile is the whole set's (its set refuses whichever
 * members run with the other key once either kind restarts: every member restarts at once); a
 * certificate is one member's, and the CA certificate the members' on its host: restarting
 * those (`-N`) makes them read the file written back. A member the repair starts itself (down,
 * or restarted off a certificate the CA did not sign) reads what it writes; one that answered
 * over TLS presents a certificate the CA signed for it, so its own certificate needs no restart
 * (it still may have read a changed CA certificate, which it checks its peers against).
 */
export function foreignSecretWarnings(
  findings: RepairFinding[],
  files: RepairFile[],
  procs: ProcessSpec[],
  cluster: string,
  { started = new Set(), answered = new Set() }: {
    /** IDs of the processes the repair starts (down ones, and repair_restart.ts's). */
    started?: ReadonlySet<string>;
    /** IDs of the processes that answered over TLS the cluster's CA trusts. */
    answered?: ReadonlySet<string>;
  } = {},
): ValidationIssue[] {
  const foreign = findings.filter((f) => f.found === "differs" && f.what === "secret");
  const secretOf = (f: RepairFinding) =>
    files.find((x) => x.op === f.op && x.path === f.path && x.secret);
  const isCert = (ref = "") => ref === SECRET.ca || procs.some((p) => certRef(p.id) === ref);
  const keyfiles = foreign.filter((f) => !isCert(secretOf(f)?.secret));
  const out: ValidationIssue[] = [];
  if (keyfiles.length) {
    out.push({
      code: "secret_replaced",
      severity: "warning",
      message: `${
        keyfiles.map((f) => f.path).join(", ")
      } ${
        keyfiles.length === 1
          ? "is"
          : "are"
      } not the cluster's: the repair writes the cluster's back, but a running member keeps the ` +
        "key it read when it started: any started since the change runs with the other one. " +
        `After the repair, \`mup cluster display ${cluster}\` names members their set refuses; ` +
        `\`mup cluster restart ${cluster} --force\` restarts every member with the cluster's key`,
    });
  }
  // Certificates: the members that read each one (its own, or every member on the CA's host).
  const readers = new Map<string, string[]>();
  for (const f of foreign) {
    const file = secretOf(f);
    const ref = file?.secret ?? "";
    const members = ref === SECRET.ca
      ? procs.filter((p) => addressHost(p.host) === addressHost(file!.host) && !started.has(p.id))
      : procs.filter((p) => certRef(p.id) === ref && !started.has(p.id) && !answered.has(p.id));
    if (members.length) readers.set(f.path, members.map((p) => hostPort(p.host, p.port)));
  }
  if (readers.size) {
    const paths = [...readers.keys()];
    const at = [...new Set([...readers.values()].flat())];
    const one = paths.length === 1;
    out.push({
      code: "secret_replaced",
      severity: "warning",
      message: `${paths.join(", ")} ${one ? "is" : "are"} not the cluster's: the repair writes ` +
        `the cluster's back, but a running member keeps the certificate it read when it ` +
        "started (the other one, if started since the change), and the repair does not restart " +
        `running members: \`mup cluster restart ${cluster}${
          at.map((a) => ` -N ${a}`).join("")
        }\` after it makes ${at.length === 1 ? "it" : "them"} read the file written back`,
    });
  }
  return out;
}

/**
 * A repair's warning when it writes a configuration file back over one changed on a host while
 * its process runs (`running`: the IDs of the processes that answer): the process keeps the
 * options it read when it started (the changed file's, if it started since the change), and
 * the repair does not restart it; `cluster restart -N` of those members makes them read it.
 */
export function changedConfigWarnings(
  findings: RepairFinding[],
  files: RepairFile[],
  procs: ProcessSpec[],
  running: ReadonlySet<string>,
  cluster: string,
): ValidationIssue[] {
  const changed = findings.filter((f) => f.found === "differs" && !f.what).flatMap((f) => {
    const host = files.find((x) => x.op === f.op && x.path === f.path)?.host;
    const p = procs.find((q) =>
      running.has(q.id) && configFilePath(q) === f.path &&
      addressHost(q.host) === addressHost(host ?? "")
    );
    return p ? [{ path: f.path, at: hostPort(p.host, p.port) }] : [];
  });
  if (!changed.length) return [];
  const one = changed.length === 1;
  return [{
    code: "config_replaced",
    severity: "warning",
    message: `${changed.map((c) => c.path).join(", ")} ${one ? "is" : "are"} not the ` +
      `configuration mup generates: the repair writes mup's back, but ${
        changed.map((c) => c.at).join(", ")
      } ${one ? "runs" : "run"} on what ${one ? "it" : "they"} read when started (the changed ` +
      "file's options, if started after it was changed) and the repair does not restart running members: " +
      `\`mup cluster restart ${cluster}${
        changed.map((c) => ` -N ${c.at}`).join("")
      }\` after it makes ${one ? "it" : "them"} read the file written back`,
  }];
}
