/**
 * `mup cluster credentials <name>`: the only command that prints a cluster's password (the
 * admin user mup created; from the secrets store).
 */
import type { Command } from "@commander-js/extra-typings";
import { MupError } from "../errors.ts";
import { lostSecrets } from "../preflight/lost_secrets.ts";
import { clusterConnectionString } from "../security/access.ts";
import { readAdmin, secretsDir } from "../security/secrets.ts";
import { securityOf } from "../security/settings.ts";
import { requireMeta } from "./cluster_show.ts";
import { storePassword } from "./credentials_store.ts";
import { storeCommand } from "../preflight/admin_login.ts";
import { type CliContext, print, printJson } from "./context.ts";

/** The connection string with the password in it (URI-encoded), for a driver or mongosh. */
export function withPassword(uri: string, user: string, password: string): string {
  const u = encodeURIComponent(user);
  return uri.replace(`mongodb://${u}@`, `mongodb://${u}:${encodeURIComponent(password)}@`);
}

/** Adds `credentials` to the `cluster` command. */
export function addCredentialsCommand(cmd: Command, ctx: CliContext): void {
  cmd.command("credentials")
    .description(
      "Print the cluster's admin user, password and connection string (the only command that shows the password)",
    )
    .argument("<name>", "cluster name")
    .option("--json", "machine-readable output")
    .option(
      "--password-stdin",
      "store the admin user's password read from standard input, once it logs in on every " +
        "replica set, standalone and answering mongos (after admin.json was lost, or the " +
        "password was changed outside mup)",
    )
    .action(async (name, opts) => {
      const meta = await requireMeta(ctx, name);
      const sec = securityOf(meta.topology);
      if (!sec.auth) {
        throw new MupError(`cluster ${name} runs without access control: it has no credentials`, {
          hint: "it was deployed with global.security.auth: false (or before mup secured clusters)",
        });
      }
      if (opts.passwordStdin) {
        const stored = await storePassword(ctx, meta, sec.adminUser);
        if (opts.json) printJson({ cluster: name, stored: true, ...stored });
        else {
          print(
            `Stored the password of ${stored.user} for cluster ${name} in ${stored.file}: it ` +
              `logs in on ${stored.checked.join(", ")}` +
              (stored.down.length ? ` (${stored.down.join(", ")} did not answer)` : "") +
              (stored.arbiters.length
                ? ` (arbiters hold no users: ${stored.arbiters.join(", ")})`
                : "") +
              ".",
          );
        }
        return;
      }
      const admin = await readAdmin(name);
      if (!admin) {
        throw new MupError(`the credentials of ${name} are missing from ${secretsDir(name)}`, {
          hint: "restore the secrets directory from a backup of $MUP_HOME; or give mup the " +
            `password the admin user has: ${storeCommand(name)} checks it against the cluster ` +
            "and stores it",
        });
      }
      // The connection string names the store's ca.pem: say when it is gone or not the
      // cluster's, with the way back, rather than hand out a string that fails to connect.
      const notes = sec.tls
        ? (await lostSecrets(meta, ["ca"])).map((l) =>
          `the connection string's tlsCAFile is mup's store's ca.pem: ${l.issue.message}`
        )
        : [];
      // Between TLS modes the string is the recorded mode's, which stops working (disable: once
      // no member takes TLS; enable: once every member requires it) as the switch goes on.
      if (meta.tls_switch) {
        notes.push(
          `TLS ${meta.tls_switch.action} is under way or unfinished (apply ` +
            `${meta.tls_switch.state_id}): this connection string is for TLS ` +
            `${meta.tls_switch.action === "enable" ? "off" : "on"}, which the members leave as ` +
            `the switch goes on; once it is finished (\`mup plan resume ${name}\` if it stopped), ` +
            `\`mup cluster credentials ${name}\` gives the new one`,
        );
      }
      const uri = withPassword(
        clusterConnectionString(name, meta.topology),
        admin.user,
        admin.password,
      );
      if (opts.json) {
        printJson({
          cluster: name,
          user: admin.user,
          password: admin.password,
          auth_db: admin.db,
          connection_string: uri,
          ...(notes.length ? { warnings: notes } : {}),
        });
        return;
      }
      print(
        [
          `Cluster: ${name}`,
          `User: ${admin.user} (role root on ${admin.db})`,
          `Password: ${admin.password}`,
          `Connection: ${uri}`,
          ...notes.map((n) => `Note: ${n}`),
        ].join("\n"),
      );
    });
}
