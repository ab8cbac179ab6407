/**
 * Pre-flight of the admin credentials mup logs in with, for plans that must talk to the
 * members (all but a stop and a destroy, which signals end): with access control on, the
 * stored admin.json must be readable and a member that answers must accept it. One changed
 * outside mup (the password set by hand, the user dropped) would otherwise let the plan be
 * approved and fail at its first command, the member then blamed as hung or busy.
 */
import type { ExecutorFactory } from "../executor/executor.ts";
import type { ValidationIssue } from "../plan/schema.ts";
import type { ProcessFact } from "../plan/lifecycle.ts";
import { clusterAccess } from "../security/access.ts";
import { readAdmin, secretPath } from "../security/secrets.ts";
import { SECRET, securityOf } from "../security/settings.ts";
import type { ClusterMeta } from "../state/meta.ts";
import { hostPort } from "../topology/hosts.ts";
import { MupError } from "../errors.ts";

/**
 * An error when the admin credentials of `meta`'s cluster (access control on) cannot be read
 * (damaged) or are refused (code 18, AuthenticationFailed) by the first member `facts` say
 * answers (an arbiter holds no users and is not asked); none when no member answers (nothing
 * to ask) or the login succeeds. A missing admin.json is lostSecretIssues'.
 */
export async function adminLoginIssues(
  meta: Pick<ClusterMeta, "name" | "topology" | "processes">,
  facts: Record<string, ProcessFact>,
  executors: ExecutorFactory,
): Promise<ValidationIssue[]> {
  if (!securityOf(meta.topology).auth) return [];
  // Damaged is damaged whether or not a member answers (a start of a stopped cluster would
  // otherwise wait for members it cannot log in to, and blame them: tester46).
  const unreadable = await readAdmin(meta.name).then(
    () => undefined,
    (e) => e instanceof MupError ? e : undefined,
  );
  if (unreadable) return [damagedIssue(unreadable, meta.name)];
  const p = meta.processes.find((x) =>
    facts[x.id]?.answering !== false && facts[x.id]?.running && facts[x.id]?.state !== "ARBITER"
  );
  if (!p) return [];
  const file = secretPath(meta.name, SECRET.admin);
  const at = hostPort(p.host, p.port);
  // Whom the connection is logged in as, not merely whether a command answers: connectionStatus
  // needs no login, and an unauthenticated one would pass through the localhost exception.
  const works = await clusterAccess(meta.name, meta.topology, executors)
    .credentialsWork(p.host, p.port, 10_000)
    .catch((e) => e instanceof MupError ? e : true); // a member that does not answer: not asked
  if (works instanceof MupError) return [damagedIssue(works, meta.name)];
  if (works) return [];
  return [{
    code: "admin_refused",
    severity: "error",
    host: p.host,
    message: `the admin credentials mup stores (${file}) do not authenticate on ${at} ` +
      "(the password changed or the user dropped outside mup?): every command this plan " +
      `sends would be refused. Give mup the user's password as it is now (${
        storeCommand(meta.name)
      } checks it against the cluster and stores it), or restore the file from a backup of ` +
      "$MUP_HOME, then plan again",
  }];
}

/** The error for an admin.json that cannot be read (`e`: readAdmin's). */
function damagedIssue(e: MupError, cluster: string): ValidationIssue {
  return {
    code: "secret_damaged",
    severity: "error",
    message: `${e.message}: mup cannot log in to the cluster without it. Restore it from a ` +
      `backup of $MUP_HOME, or ${storeCommand(cluster)} replaces it with the password the ` +
      "user has, then plan again",
  };
}

/** The command that stores the admin user's password as the cluster has it (quoted). */
export function storeCommand(cluster: string): string {
  return `\`printf '%s' "$PASSWORD" | mup cluster credentials ${cluster} --password-stdin\``;
}
