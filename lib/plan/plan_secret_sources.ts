/**
 * What a plan's `generate_secret` operations copy into the cluster's secrets store, checked
 * against what mup copies itself (security_steps.ts): the user's own keyfile, as the plan's
 * topology names it (`global.security.keyfile`), or, for a deploy onto retained data, the
 * keyfile and admin credentials that `cluster destroy --retain-data` archived for this same
 * cluster (`<store>/archive/<cluster>-plan-…/secrets/`). A plan is untrusted input (its content
 * hash is no signature): without this, a plan edited and sealed again could copy another
 * cluster's password or keyfile from this MUP_HOME into this cluster's secrets.
 *
 * The sibling of plan_uploads.ts, in its style: pure, each problem a validation error (code
 * `plan_secret_source`) naming the operation, the parameter and the fix.
 */
import * as path from "node:path";
import { SECRET } from "../security/settings.ts";
import { keyfileSource } from "../security/secrets.ts";
import { remakeFix } from "./plan_paths.ts";
import type { Plan, ValidationIssue } from "./schema.ts";

/** The file of the archive that holds `secret`, as `cluster destroy --retain-data` writes it. */
const ARCHIVED: Record<string, string> = {
  [SECRET.keyfile]: "keyfile",
  [SECRET.admin]: "admin.json",
};

/**
 * Every `generate_secret` source of `plan` that is not one mup copies, as validation errors.
 * `storeRoot` is $MUP_HOME/storage; without it only the kind of secret is checked.
 */
export function planSecretSourceIssues(
  plan: Plan,
  opts: { storeRoot?: string } = {},
): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const fix = remakeFix(plan);
  const own = plan.topology.global.security?.keyfile;
  const archiveRoot = opts.storeRoot ? path.posix.join(opts.storeRoot, "archive") : undefined;
  const store = opts.storeRoot ? path.posix.normalize(opts.storeRoot) : "";
  for (const o of plan.phases.flatMap((p) => p.operations)) {
    const { secret, source } = o.target.params;
    if (o.type !== "generate_secret" || source === undefined) continue;
    const error = (message: string) =>
      issues.push({
        code: "plan_secret_source",
        severity: "error",
        message: `operation ${o.id} (generate_secret): parameter "source" is ` +
          `${JSON.stringify(source)}; ${message}. ${fix}`,
      });
    const file = ARCHIVED[secret];
    if (!file) {
      error(`mup copies only a keyfile or the admin credentials, never ${secret}`);
      continue;
    }
    const src = path.posix.normalize(keyfileSource(source));
    // This cluster's own archive (retained data): <archive root>/<cluster>-plan-…/secrets/<file>.
    const rel = archiveRoot ? path.posix.relative(archiveRoot, src).split("/") : [];
    const archived = rel.length === 3 && rel[0].startsWith(`${plan.cluster_name}-plan-`) &&
      rel[1] === "secrets" && rel[2] === file;
    if (archived) continue;
    // Another cluster's secrets and archives are in the store: never a keyfile of the user's.
    const inStore = store !== "" && (src === store || src.startsWith(`${store}/`));
    if (secret === SECRET.keyfile && own !== undefined && source === own && !inStore) continue;
    error(
      secret === SECRET.keyfile
        ? "mup copies a keyfile only from the one global.security.keyfile names (outside " +
          `${store || "the store"}), or from an archive of cluster ${plan.cluster_name} ` +
          "(retained data)"
        : `mup copies the admin credentials only from an archive of cluster ${plan.cluster_name} ` +
          "(retained data)",
    );
  }
  return issues;
}
