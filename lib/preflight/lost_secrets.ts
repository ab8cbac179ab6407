/**
 * A recorded cluster's secrets missing from mup's store. The cluster runs on them: its members
 * authenticate to each other with the keyfile on their hosts, its admin user has the password
 * in `admin.json`, its certificates are signed by the CA. A plan that made new ones would lock
 * the members out of each other (a new keyfile), log in with a password no user has, or sign
 * certificates no member trusts, and report success for it; so deploy (a repair) and scale-out
 * refuse, naming the file and how to put it back. Plans that talk to the cluster (start,
 * restart, reconfigure, upgrade, tls, scale-in) need the admin credentials and the CA: without
 * them mup cannot log in, and would blame the servers.
 */
import { shellQuote } from "../executor/shell_quote.ts";
import { certRef, hostCaPath, hostKeyfilePath, SECRET, securityOf } from "../security/settings.ts";
import { caPairMatches, signedByClusterCa, verifyCertificate } from "../security/tls.ts";
import { caReplacedIssue, type CertificateToSign } from "../plan/repair_files.ts";
import { CA_KEY, SECRET_NOUN, secretExists, secretPath } from "../security/secrets.ts";
import type { ClusterMeta } from "../state/meta.ts";
import { isLocalMachine } from "../topology/hosts.ts";
import type { ValidationIssue } from "../plan/schema.ts";
import { storeCommand } from "./admin_login.ts";

/** The secrets lostSecretIssues looks for. */
export type LostSecret = "keyfile" | "admin" | "ca" | "ca-key";

/** The admin credentials, the CA and its key: which setting uses each, and what a new one does. */
const LOST: {
  which: LostSecret;
  needs: "auth" | "tls";
  ref: keyof typeof SECRET_NOUN;
  files: string;
  why: (user: string) => string;
  /** What works without a backup, if anything (cluster name given). */
  otherwise?: (cluster: string) => string;
}[] = [
  {
    which: "admin",
    needs: "auth",
    ref: SECRET.admin,
    files: "the file",
    why: (user) =>
      `the user ${user} exists in the cluster with the password kept there, and a new ` +
      "password would match no user",
    // The password the user has (known, or set again by another user that administers users).
    otherwise: (c) =>
      `; or give mup the password the user has: ${storeCommand(c)} checks it against the ` +
      "cluster and stores it",
  },
  {
    which: "ca",
    needs: "tls",
    ref: SECRET.ca,
    files: "ca.pem",
    why: () =>
      "its members' certificates are signed by it, and a new CA would sign certificates they " +
      "do not trust",
  },
  {
    // Only signing needs the key (a repair's or scale-out's new certificate); a new CA made
    // because it is gone would sign certificates the members do not trust.
    which: "ca-key",
    needs: "tls",
    ref: CA_KEY,
    files: "ca.key",
    why: () =>
      "the certificates of new members (or of members whose certificate is gone from the " +
      "store) are signed with it, and a new CA would sign certificates the members do not trust",
    // A TLS enable makes a new CA and signs every certificate again (none is in use then).
    otherwise: (c) =>
      `; without one, \`mup cluster tls ${c} disable\` then \`mup cluster tls ${c} enable\` ` +
      "gives every member a certificate of a new CA (clients then trust the new ca.pem)",
  },
];

/**
 * Errors (code `secret_lost`) for each secret `meta`'s cluster uses that its store no longer
 * holds: the keyfile and the admin credentials with auth on, the CA and its key with TLS on.
 * The keyfile's names the copy on a member's host and the `cp` (this machine) or where to copy
 * it from.
 */
export async function lostSecretIssues(
  meta: Pick<ClusterMeta, "name" | "topology" | "deploy_dir" | "processes">,
  /** The secrets looked at (all by default; `ca-key` is needed only to sign certificates). */
  which: readonly LostSecret[] = ["keyfile", "admin", "ca", "ca-key"],
): Promise<ValidationIssue[]> {
  return (await lostSecrets(meta, which)).map((l) => l.issue);
}

/**
 * lostSecretIssues, each error with the secret it concerns (`ca` also for a CA certificate
 * that is not its key's): a caller that must know which (display: without `admin` or `ca` mup
 * cannot ask the members) looks at each file once.
 */
export async function lostSecrets(
  meta: Pick<ClusterMeta, "name" | "topology" | "deploy_dir" | "processes">,
  which: readonly LostSecret[] = ["keyfile", "admin", "ca", "ca-key"],
): Promise<{ which: LostSecret; issue: ValidationIssue }[]> {
  const sec = securityOf(meta.topology);
  const issues: { which: LostSecret; issue: ValidationIssue }[] = [];
  const lost = async (ref: string) => !(await secretExists(meta.name, ref));
  // A keyfile of the user's (`security.keyfile`) is copied from that file again.
  if (which.includes("keyfile") && sec.auth && !sec.keyfile && await lost(SECRET.keyfile)) {
    const store = secretPath(meta.name, SECRET.keyfile);
    const onHost = hostKeyfilePath(meta.deploy_dir);
    const local = meta.processes.find((p) => isLocalMachine(p.host));
    const host = local?.host ?? meta.processes[0]?.host ?? "a member's host";
    const [q, h] = [shellQuote(store), shellQuote(onHost)];
    // On this machine mup can look: with the hosts' copy gone too, no `cp` can work.
    const noCopy = local && !(await Deno.stat(onHost).then((s) => s.isFile, () => false));
    issues.push({
      which: "keyfile",
      issue: {
        code: "secret_lost",
        severity: "error",
        message: `the cluster's keyfile is missing from mup's store (${store}): ` +
          (noCopy
            ? `and from ${onHost} on ${host} too: its members run on the key they read when ` +
              "they started, which no file holds any more, and a keyfile given to some would lock " +
              "them out of the others. Give them all a new one at once: `(umask 077; openssl rand " +
              `-base64 756 > ${q}) && cp ${q} ${h} && mup cluster restart ${meta.name} --force\``
            : "its members run with the copy on their hosts, and a new keyfile would lock them " +
              "out of each other. " +
              (local
                ? `Put it back: \`cp ${h} ${q} && chmod 600 ${q}\``
                : `Put it back: copy ${host}:${onHost} to ${store} (mode 600)`)),
      },
    });
  }
  // The admin credentials, the CA and its key (said once when the CA is gone with it). Each
  // file is looked at once, and the hosts' copy of the CA only when a message names it.
  const caKeyLost = sec.tls && await lost(CA_KEY);
  let hostCaFound: Promise<string | undefined> | undefined;
  const hostCa = () => hostCaFound ??= localHostCa(meta);
  const said = new Set<LostSecret>();
  for (const l of LOST) {
    if (!which.includes(l.which) || !sec[l.needs]) continue;
    if (!(l.which === "ca-key" ? caKeyLost : await lost(l.ref))) continue;
    if (l.which === "ca-key" && said.has("ca")) continue;
    said.add(l.which);
    // The hosts keep a copy of the CA's certificate (not of its key): on this machine, the `cp`.
    const copy = l.which === "ca" ? await hostCa() : undefined;
    issues.push({
      which: l.which,
      issue: {
        code: "secret_lost",
        severity: "error",
        message:
          `the cluster's ${SECRET_NOUN[l.ref]} ${
            SECRET_NOUN[l.ref].endsWith("s") ? "are" : "is"
          } missing from ` +
          `mup's store (${secretPath(meta.name, l.ref)}): ${l.why(sec.adminUser)}. Put ` +
          `${l.files}${
            l.which === "ca" && caKeyLost ? " and ca.key" : ""
          } back from a backup of $MUP_HOME${
            copy
              ? `, or the certificate from the hosts' copy: \`cp ${shellQuote(copy)} ${
                shellQuote(secretPath(meta.name, l.ref))
              } && chmod 600 ${shellQuote(secretPath(meta.name, l.ref))}\``
              : ""
          }${l.otherwise?.(meta.name) ?? ""}`,
      },
    });
  }
  // A CA certificate that is not the one of the key beside it (one of them replaced): a repair
  // would install it on the hosts over the right one and fail to sign with the pair.
  if (which.includes("ca") && sec.tls && !said.has("ca") && !caKeyLost) {
    if (!(await caPairMatches(meta.name))) {
      const copy = await hostCa();
      issues.push({
        which: "ca",
        issue: {
          code: "secret_lost",
          severity: "error",
          message: `the cluster's CA certificate (${
            secretPath(meta.name, SECRET.ca)
          }) is not the certificate of the key beside it (${
            secretPath(meta.name, CA_KEY)
          }): one of them was replaced. Put the pair back from a backup of $MUP_HOME${
            copy ? ` (the hosts keep a copy of the certificate: ${copy})` : ""
          }`,
        },
      });
    } else {
      // Both of the pair replaced by another CA's: every member would look "unsigned".
      const replaced = await storeCaReplaced(meta, hostCa);
      if (replaced) {
        const local = meta.processes.find((p) => isLocalMachine(p.host));
        issues.push({
          which: "ca",
          issue: caReplacedIssue(
            meta.name,
            typeof replaced === "string" && local
              ? { host: local.host, path: replaced }
              : undefined,
            { ca: secretPath(meta.name, SECRET.ca), caKey: secretPath(meta.name, CA_KEY) },
          ),
        });
      }
    }
  }
  return issues;
}

/**
 * Whether the CA pair in `meta`'s store is not the one its members trust: no certificate in the
 * store verifies against it (one at least is there) and the hosts' ca.pem on this machine, when
 * a member runs here, is another (its path is returned); with no copy here to compare, a
 * cluster of two or more processes none of whose certificates verifies (true). One certificate
 * of the CA's, or the hosts' copy the store's, is not a replaced CA (false).
 */
async function storeCaReplaced(
  meta: Pick<ClusterMeta, "name" | "processes">,
  hostCa: () => Promise<string | undefined>,
): Promise<string | boolean> {
  let present = 0;
  for (const p of meta.processes) {
    const ref = certRef(p.id);
    if (!(await secretExists(meta.name, ref))) continue;
    present++;
    if (await signedByClusterCa(meta.name, ref)) return false;
  }
  if (!present) return false;
  const copy = await hostCa();
  if (!copy) return meta.processes.length >= 2;
  const [theirs, ours] = await Promise.all(
    [copy, secretPath(meta.name, SECRET.ca)].map((f) =>
      Deno.readTextFile(f).catch(() => undefined)
    ),
  );
  return theirs !== undefined && theirs !== ours ? copy : false;
}

/**
 * The processes of `meta`'s TLS cluster whose certificate a repair must sign: none in the
 * store (`missing`), one the CA there did not sign (`unsigned`), or one it signed for another
 * host (`misnamed`: a member presenting it is refused by its set and its clients). Without
 * any, a lost CA key stops nothing a repair does. Empty for a cluster without TLS.
 */
export async function repairSigns(
  meta: Pick<ClusterMeta, "name" | "topology" | "processes">,
): Promise<CertificateToSign[]> {
  if (!securityOf(meta.topology).tls) return [];
  // Without the CA in the store no certificate can be judged (lostSecrets refuses that).
  const caThere = await secretExists(meta.name, SECRET.ca);
  const out: CertificateToSign[] = [];
  for (const p of meta.processes) {
    const ref = certRef(p.id);
    if (!(await secretExists(meta.name, ref))) {
      out.push({ id: p.id, found: "missing" });
      continue;
    }
    if (!caThere) continue;
    const v = await verifyCertificate(
      secretPath(meta.name, SECRET.ca),
      { path: secretPath(meta.name, ref) },
      p.host,
    );
    // openssl unable to run says nothing of it: signing it again could not run either.
    if ("unavailable" in v || v.ok) continue;
    out.push({ id: p.id, found: v.misnamed ? "misnamed" : "unsigned" });
  }
  return out;
}

/** The hosts' copy of the CA certificate when a member runs on this machine and it is there. */
async function localHostCa(
  meta: Pick<ClusterMeta, "deploy_dir" | "processes">,
): Promise<string | undefined> {
  if (!meta.processes.some((p) => isLocalMachine(p.host))) return undefined;
  const file = hostCaPath(meta.deploy_dir);
  return await Deno.stat(file).then((s) => s.isFile ? file : undefined, () => undefined);
}
