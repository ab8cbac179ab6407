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
import { hostKeyfilePath, SECRET, securityOf } from "../security/settings.ts";
import { secretExists, secretPath } from "../security/secrets.ts";
import type { ClusterMeta } from "../state/meta.ts";
import { isLocalMachine } from "../topology/hosts.ts";
import type { ValidationIssue } from "./schema.ts";

/**
 * Errors (code `secret_lost`) for each secret `meta`'s cluster uses that its store no longer
 * holds: the keyfile and the admin credentials with auth on, the CA with TLS on. The keyfile's
 * names the copy on a member's host and the `cp` (this machine) or where to copy it from.
 */
export async function lostSecretIssues(
  meta: Pick<ClusterMeta, "name" | "topology" | "deploy_dir" | "processes">,
  /** The secrets looked at (all by default). */
  which: readonly ("keyfile" | "admin" | "ca")[] = ["keyfile", "admin", "ca"],
): Promise<ValidationIssue[]> {
  const sec = securityOf(meta.topology);
  const issues: ValidationIssue[] = [];
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
    });
  }
  if (which.includes("admin") && sec.auth && await lost(SECRET.admin)) {
    issues.push({
      code: "secret_lost",
      severity: "error",
      message:
        `the cluster's admin credentials are missing from mup's store (${
          secretPath(meta.name, SECRET.admin)
        }): the user ${sec.adminUser} exists in the cluster with the password kept there, and a ` +
        "new password would match no user. Put the file back from a backup of $MUP_HOME",
    });
  }
  if (which.includes("ca") && sec.tls && await lost(SECRET.ca)) {
    issues.push({
      code: "secret_lost",
      severity: "error",
      message:
        `the cluster's CA is missing from mup's store (${
          secretPath(meta.name, SECRET.ca)
        }): its members' certificates are signed by it, and a new CA would sign certificates ` +
        "they do not trust. Put ca.pem and ca.key back from a backup of $MUP_HOME",
    });
  }
  return issues;
}
