import type { Command } from "@commander-js/extra-typings";
import * as path from "node:path";
import { MupError } from "../errors.ts";
import { type DefaultExecutors, reachedLocally } from "../executor/factory.ts";
import {
  CONTROL_PERSIST_S,
  controlDirFor,
  DEFAULT_SSH_TIMEOUT_S,
  parseJump,
  parseSshOptions,
  type SshSettings,
} from "../executor/ssh_settings.ts";
import type { Topology } from "../topology/schema.ts";
import { mupHome } from "../util/path.ts";
import {
  durationArg,
  durationHelp,
  type DurationOptionSpec,
  parseDurationOption,
} from "./duration_option.ts";

/** `--ssh-timeout`: ssh's ConnectTimeout, which counts whole seconds (a bare number was seconds). */
export const SSH_TIMEOUT: DurationOptionSpec = {
  flag: "--ssh-timeout",
  bareUnit: "s",
  minMs: 1000,
  maxMs: 3_600_000,
  examples: ["10s", "1m"],
};

/** The SSH flags, as commander gives them. */
export interface SshCliOptions {
  user?: string;
  identityFile?: string;
  sshTimeout?: string;
  sshOption?: string[];
  sshProxy?: string;
  strictHostKeys?: boolean;
  sshConfig?: string;
}

/** Adds the flags of commands that reach hosts (deploy, apply, resume, …). */
// deno-lint-ignore no-explicit-any
export function sshCommandOptions(cmd: Command<any, any, any>): void {
  cmd.option("--user <user>", "SSH login on remote hosts (default: global.user, else ssh's)")
    .option("-i, --identity-file <file>", "SSH private key (default: global.ssh_identity_file)")
    .option(
      "--ssh-timeout <duration>",
      durationHelp(SSH_TIMEOUT, "how long to wait for an SSH connection") +
        "; ssh counts whole seconds, so it is rounded up",
      durationArg(SSH_TIMEOUT),
      `${DEFAULT_SSH_TIMEOUT_S}s`,
    )
    .option(
      "--ssh-option <key=value>",
      "an ssh -o option, e.g. UserKnownHostsFile=/path (repeatable)",
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option(
      "--ssh-proxy <[user@]host[:port]>",
      "reach remote hosts through this jump host (same key and options)",
    )
    .option("--strict-host-keys", "refuse hosts whose key is not yet in known_hosts")
    .option("--ssh-config <file>", "ssh_config file instead of ~/.ssh/config (/dev/null: none)");
}

/** Per-host SSH ports from a topology's entries (`ssh_port` on an entry). */
export function hostSshPorts(t: Topology): Map<string, number> {
  const ports = new Map<string, number>();
  for (const s of [...t.config_servers, ...t.mongod_servers, ...t.mongos_servers]) {
    if (s.ssh_port !== undefined) ports.set(s.host, s.ssh_port);
  }
  return ports;
}

/** SSH settings from the topology and the flags (flags win). Throws MupError on a bad flag. */
export function sshSettings(t: Topology, opts: SshCliOptions): SshSettings {
  const timeoutMs = parseDurationOption(
    SSH_TIMEOUT,
    opts.sshTimeout ?? `${DEFAULT_SSH_TIMEOUT_S}s`,
  );
  let options: string[];
  try {
    options = parseSshOptions(opts.sshOption ?? []);
    if (opts.sshProxy !== undefined) parseJump(opts.sshProxy);
  } catch (e) {
    throw new MupError((e as Error).message);
  }
  const identityFile = opts.identityFile ?? t.global.ssh_identity_file;
  if (identityFile !== undefined) {
    checkIdentityFile(
      t,
      identityFile,
      opts.identityFile !== undefined ? "-i/--identity-file" : "global.ssh_identity_file",
    );
  }
  const from = (option: string, field: string, byOption: boolean, inTopology: boolean) =>
    byOption ? option : inTopology ? `the topology's ${field}` : undefined;
  return {
    user: opts.user ?? t.global.user,
    port: t.global.ssh_port,
    identityFile,
    loginFrom: {
      user: from("--user", "global.user", opts.user !== undefined, t.global.user !== undefined),
      key: from(
        "-i/--identity-file",
        "global.ssh_identity_file",
        opts.identityFile !== undefined,
        t.global.ssh_identity_file !== undefined,
      ),
    },
    connectTimeoutS: Math.ceil(timeoutMs / 1000),
    options,
    proxyJump: opts.sshProxy,
    strictHostKeys: !!opts.strictHostKeys,
    configFile: opts.sshConfig,
    controlDir: controlDirFor(mupHome()),
    controlPersistS: CONTROL_PERSIST_S,
  };
}

/**
 * Refuses an SSH identity file that is not there when the topology has hosts reached over SSH
 * (reachedLocally): OpenSSH only warns of a missing `-i` file ("Identity file … not
 * accessible") and goes on with the user's other keys and agent, so a typo would log in with
 * another key than the one named, or fail as "Permission denied" naming the wrong cause. `~/`
 * is the user's home, as ssh reads it. Throws MupError naming the file, where it was given
 * (`given`) and the fix.
 */
function checkIdentityFile(t: Topology, file: string, given: string): void {
  const hosts = [...t.config_servers, ...t.mongod_servers, ...t.mongos_servers].map((s) => s.host);
  if (hosts.every(reachedLocally)) return;
  const home = Deno.env.get("HOME");
  const full = file.startsWith("~/") && home ? path.join(home, file.slice(2)) : file;
  let problem: string | undefined;
  try {
    const st = Deno.statSync(full);
    if (!st.isFile) problem = "is not a file";
    else Deno.openSync(full, { read: true }).close();
  } catch (e) {
    problem = e instanceof Deno.errors.NotFound
      ? "does not exist"
      : `cannot be read (${(e as Error).message})`;
  }
  if (!problem) return;
  throw new MupError(
    `SSH identity file ${file} (${given}) ${problem}; ssh would try other keys instead, so nothing was done`,
    {
      hint: `give the path of the private key that logs in to the hosts (${given})`,
      details: { check: "ssh_identity_file", path: file },
    },
  );
}

/** Configures how `executors` reach the topology's remote hosts. */
export function configureSsh(
  executors: DefaultExecutors,
  t: Topology,
  opts: SshCliOptions,
  /** Ports of hosts the topology no longer lists that are still reached (a plan's ssh_ports). */
  more: Record<string, number> = {},
): void {
  const ports = hostSshPorts(t);
  for (const [h, p] of Object.entries(more)) if (!ports.has(h)) ports.set(h, p);
  executors.configureSsh(sshSettings(t, opts), ports);
}
