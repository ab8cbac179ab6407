/**
 * `mup cluster credentials <name> --password-stdin`: gives mup's store the admin user's password
 * as the cluster has it, once it logs in on the cluster. The way forward when `admin.json` is
 * lost, or the password was changed outside mup (`db.changeUserPassword`, MongoDB docs), which
 * no plan can mend: a new password would match no user.
 */
import * as path from "node:path";
import { MupError } from "../errors.ts";
import { shellQuote } from "../executor/shell_quote.ts";
import { MongoAccess } from "../mongo/client.ts";
import { readUserText } from "../util/read_text.ts";
import { SECRET } from "../security/settings.ts";
import { secretPath, SECRETS_FORMAT_VERSION, writeSecret } from "../security/secrets.ts";
import type { ClusterMeta } from "../state/meta.ts";
import { refuseWhileLocked } from "../state/lock.ts";
import { hostPort, isLocalMachine } from "../topology/hosts.ts";
import type { CliContext } from "./context.ts";

/** What storing found: the processes that took the password, and the arbiters passed by. */
export interface StoredPassword {
  user: string;
  checked: string[];
  /** Members that did not answer, of sets another member vouched for (and mongos). */
  down: string[];
  arbiters: string[];
  file: string;
}

/**
 * Reads the password from standard input (one line: a trailing newline is not part of it),
 * logs in with it as `user` on every process of `meta` that answers (`connectionStatus` names
 * the user: a login, not an answer), and writes the store's `admin.json` (atomically, mode
 * 0600) only when none refused it and a member of every replica set and every standalone took
 * it (users replicate within a set; a mongos reads the config servers'). Arbiters hold no users
 * and are passed by. Throws a MupError when a process refuses the password
 * (AuthenticationFailed), a set or standalone has no member that answers (with the start by
 * hand that lets it be checked), an apply holds the cluster's lock, or standard input is not
 * one line.
 */
export async function storePassword(
  ctx: CliContext,
  meta: ClusterMeta,
  user: string,
): Promise<StoredPassword> {
  const name = meta.name;
  await refuseWhileLocked(ctx.store.clusterDir(name));
  if (Deno.stdin.isTerminal()) {
    throw new MupError("--password-stdin reads the password from standard input, not a terminal", {
      hint: `pipe it in: \`printf '%s' "$PASSWORD" | mup cluster credentials ${name} ` +
        "--password-stdin` (never on the command line, where `ps` shows it)",
    });
  }
  const { text } = await readUserText("<stdin>", { what: "password", maxBytes: 4096 });
  const password = text.replace(/\r?\n$/, "");
  if (!password || password.includes("\n")) {
    throw new MupError(
      password ? "standard input holds more than one line" : "standard input holds no password",
      { hint: "give the password alone, on one line" },
    );
  }
  const ca = secretPath(name, SECRET.ca);
  const access = new MongoAccess({
    credentials: () => Promise.resolve({ user, password }),
    caFile: () => Deno.stat(ca).then(() => ca, () => undefined),
  });
  const results = await Promise.all(meta.processes.map(async (p) => {
    const at = hostPort(p.host, p.port);
    const hello = await access.hello(p.host, p.port).catch(() => undefined);
    const outcome = !hello
      ? "down"
      : hello.arbiterOnly
      ? "arbiter"
      : await access.credentialsWork(p.host, p.port).then(
        (w) => w ? "ok" : "refused",
        () => "down",
      );
    return { p, at, outcome };
  }));
  const of = (o: string) => results.filter((r) => r.outcome === o).map((r) => r.at);
  if (of("refused").length) {
    throw new MupError(
      `the password does not log in as ${user} on ${of("refused").join(", ")} ` +
        "(AuthenticationFailed): nothing was stored",
      {
        hint: "give the password the user has on every member. With another user that may " +
          `administer users, set one ${
            meta.kind === "sharded"
              ? "on each shard's primary and through mongos"
              : meta.kind === "replica_set"
              ? "on the primary"
              : "on the server"
          } (\`db.getSiblingDB("admin").changeUserPassword("${user}", …)\`), then store it here`,
        details: { refused: of("refused"), checked: of("ok") },
      },
    );
  }
  // Users replicate within a set: one member of each set that takes the password vouches for
  // the set (a mongos reads the config servers'). A standalone must answer itself.
  const unit = (p: ClusterMeta["processes"][number]) => p.replica_set ?? p.id;
  const vouched = new Set(results.filter((r) => r.outcome === "ok").map((r) => unit(r.p)));
  const unchecked = results.filter((r) => r.p.role !== "mongos" && !vouched.has(unit(r.p)));
  if (unchecked.length) {
    const sets = [...new Set(unchecked.map((r) => unit(r.p)))];
    const firsts = sets.map((u) => unchecked.find((r) => unit(r.p) === u)!);
    throw new MupError(
      `no member of ${sets.join(", ")} that holds users answered (arbiters hold none), so the ` +
        "password could not be checked there: nothing was stored",
      {
        hint: `start one member of each: \`mup cluster start ${name}\` works while the stored ` +
          "credentials do; without them, by hand with the configuration file mup wrote (" +
          `${firsts.map((r) => byHand(meta, r.p)).join("; ")}); then store the password, and ` +
          `\`mup cluster start ${name}\` starts the rest`,
        details: { down: of("down"), checked: of("ok") },
      },
    );
  }
  const doc = { format_version: SECRETS_FORMAT_VERSION, user, password, db: "admin" };
  await writeSecret(name, SECRET.admin, JSON.stringify(doc, null, 2) + "\n");
  return {
    user,
    checked: of("ok"),
    down: of("down"),
    arbiters: of("arbiter"),
    file: secretPath(name, SECRET.admin),
  };
}

/** The command that starts process `p` as mup does: its recorded binary and configuration. */
function byHand(meta: ClusterMeta, p: ClusterMeta["processes"][number]): string {
  const name = p.role === "mongos" ? "mongos" : "mongod";
  const bin =
    meta.binaries?.find((b) => b.host === p.host && path.posix.basename(b.path) === name)?.path ??
      name;
  return `\`${shellQuote(bin)} -f ${shellQuote(p.config)}\`${
    isLocalMachine(p.host) ? "" : ` on ${p.host}`
  }`;
}
