import { SECRET } from "../security/settings.ts";
import { makeCa, makeCertificate, signedByClusterCa } from "../security/tls.ts";
import {
  AdminCredentials,
  CA_KEY,
  checkKeyfile,
  keyfileSource,
  newKeyfile,
  newPassword,
  readAdmin,
  SECRET_NOUN,
  secretExists,
  secretPath,
  SECRETS_FORMAT_VERSION,
  writeSecret,
} from "../security/secrets.ts";
import { type Operation, type OperationContext, OperationError, param } from "./operation.ts";

/**
 * Puts one secret into the cluster's secrets store (0700 directory, 0600 file): the keyfile
 * (generated, or copied from the topology's `keyfile`) or the admin credentials (a generated
 * password). Done when the secret exists, so a re-deploy or resume never replaces a secret the
 * cluster already uses. Its output names the secret, never its value.
 */
export const generateSecret: Operation = {
  async isDone(ctx) {
    const ref = param(ctx, "secret");
    if (ref === SECRET.admin) return (await readAdmin(ctx.plan.cluster_name)) !== undefined;
    if (ref === SECRET.ca) {
      const pem = await secretExists(ctx.plan.cluster_name, ref);
      // A repair of a recorded cluster runs on the CA its members trust: its certificate is
      // enough (the key only signs, and the planner refuses a repair that signs without it).
      // A TLS enable, which no member trusts yet, makes a new one with its key.
      const recorded = ctx.plan.base_state.lineage !== "" &&
        (ctx.plan.operation === "deploy" || ctx.plan.operation === "scale-out");
      if (pem && recorded) return true;
      // The certificate is written after its key: with the certificate, both are there.
      return pem && await secretExists(ctx.plan.cluster_name, CA_KEY);
    }
    // A certificate of another CA (the CA made again since), or of this CA for another host,
    // is not in place: made anew.
    if (ref.startsWith("secret:cert:")) {
      return await secretExists(ctx.plan.cluster_name, ref) &&
        await signedByClusterCa(ctx.plan.cluster_name, ref, param(ctx, "host"));
    }
    return await secretExists(ctx.plan.cluster_name, ref);
  },
  async run(ctx) {
    const cluster = ctx.plan.cluster_name;
    const ref = param(ctx, "secret");
    refuseOverRecorded(ctx.plan, ref, ctx.op.target.params.source);
    if (ref === SECRET.keyfile) {
      const given = ctx.op.target.params.source;
      if (given) {
        const src = keyfileSource(given);
        const text = await Deno.readTextFile(src).catch((e) => {
          throw new OperationError(`cannot read the keyfile ${src}: ${(e as Error).message}`);
        });
        await writeSecret(cluster, ref, checkKeyfile(text, src));
        return { output: `copied ${src} into the secrets store` };
      }
      await writeSecret(cluster, ref, newKeyfile());
      return { output: "generated the keyfile (756 random bytes, base64)" };
    }
    if (ref === SECRET.admin) {
      const source = ctx.op.target.params.source;
      if (source) return await copyAdmin(cluster, source, param(ctx, "user"));
      const doc = {
        format_version: SECRETS_FORMAT_VERSION,
        user: param(ctx, "user"),
        password: newPassword(),
        db: "admin",
      };
      await writeSecret(cluster, ref, JSON.stringify(doc, null, 2) + "\n");
      return { output: `generated the password of ${doc.user}` };
    }
    if (ref === SECRET.ca) {
      if ((ctx.executions ?? 0) > 0) await refuseCaMadeAgain(ctx);
      await makeCa(cluster);
      return { output: "created the cluster CA (RSA 2048, 10 years)" };
    }
    if (ref.startsWith("secret:cert:")) {
      await makeCertificate(cluster, ref, param(ctx, "host"));
      return { output: `created ${ref.slice("secret:cert:".length)}'s certificate` };
    }
    throw new OperationError(`generate_secret cannot make ${ref}`);
  },
};

/**
 * A plan of a cluster recorded when it was made (`base_state.lineage`) never makes the
 * cluster's keyfile or admin password anew, nor (in a repair or scale-out) its CA: the cluster
 * runs on the ones missing from the store, and new ones would lock its members out of each
 * other, match no user, or sign certificates no member trusts. The planners refuse this
 * (lib/preflight/lost_secrets.ts); a plan saved before the loss is stopped here. Throws
 * OperationError (no effect).
 */
function refuseOverRecorded(
  plan: { base_state: { lineage: string }; operation: string; cluster_name: string },
  ref: string,
  source: string | undefined,
): void {
  if (plan.base_state.lineage === "" || source) return;
  const made = ref === SECRET.keyfile || ref === SECRET.admin ||
    (ref === SECRET.ca && (plan.operation === "deploy" || plan.operation === "scale-out"));
  if (!made) return;
  const what = SECRET_NOUN[ref];
  const plural = what.endsWith("s");
  throw new OperationError(
    `the cluster's ${what} ${plural ? "are" : "is"} missing from mup's store (${
      secretPath(plan.cluster_name, ref)
    }), and cluster ${plan.cluster_name} runs on ${plural ? "them" : "it"}: this plan, made ` +
      `before, would make new ${plural ? "ones" : "one"}. Plan again (\`mup cluster deploy\` ` +
      "of the recorded topology names how to put it back)",
    { noEffect: true },
  );
}

/**
 * A resume that finds the CA this apply made gone from the store (its effect "no longer in
 * place") makes a new one only while no host has the old one installed: a host that has it
 * may run members on certificates it signed, which would trust none of the new CA's (tester47:
 * a TLS enable resumed without ca.pem left every member untrusted, with no way back but a
 * backup). Throws OperationError (no effect) naming the restore.
 */
async function refuseCaMadeAgain(ctx: OperationContext): Promise<void> {
  const installs = ctx.plan.phases.flatMap((ph) => ph.operations).filter((o) =>
    o.type === "upload_file" && o.target.params.secret === SECRET.ca && o.target.host
  );
  for (const o of installs) {
    const dest = o.target.params.dest;
    if (!dest || !(await ctx.executors.forHost(o.target.host!).exists(dest))) continue;
    const cluster = ctx.plan.cluster_name;
    throw new OperationError(
      `the cluster CA this apply made is gone from mup's store (${
        secretPath(cluster, SECRET.ca)
      }), and ${o.target.host} has it installed (${dest}): members given certificates it ` +
        "signed would trust none of a new one's. Put ca.pem and ca.key back from a backup " +
        `of $MUP_HOME, then \`mup plan resume ${cluster}\``,
      { noEffect: true },
    );
  }
}

/**
 * Copies admin credentials kept elsewhere (the archive of a `destroy --retain-data`, whose data
 * holds the user) into the store; refuses a damaged file or another user's. Never quotes the file.
 */
async function copyAdmin(cluster: string, source: string, user: string) {
  const text = await Deno.readTextFile(source).catch((e) => {
    throw new OperationError(`cannot read ${source}: ${(e as Error).message}`);
  });
  let parsed;
  try {
    parsed = AdminCredentials.safeParse(JSON.parse(text));
  } catch {
    parsed = undefined;
  }
  if (!parsed?.success) throw new OperationError(`${source} holds no admin credentials`);
  if (parsed.data.user !== user) {
    throw new OperationError(`${source} holds the credentials of ${parsed.data.user}, not ${user}`);
  }
  await writeSecret(cluster, SECRET.admin, JSON.stringify(parsed.data, null, 2) + "\n");
  return { output: `reused the password of ${user} kept in ${source}` };
}
