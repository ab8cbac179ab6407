import { MupError } from "../errors.ts";

/** What went wrong reaching a host, for messages and for tests. */
export type SshFailureKind =
  | "unknown_host"
  | "unreachable"
  | "auth_refused"
  | "host_key_changed"
  | "host_key_unknown"
  | "timeout"
  | "command_not_found";

/**
 * A host could not be used over SSH. The message names the host and ends with what to do, so it
 * reads whole wherever it lands (an operation's error, a pre-flight result, the CLI's last line).
 */
export class SshError extends MupError {
  constructor(
    readonly host: string,
    readonly kind: SshFailureKind,
    readonly problem: string,
    readonly fix: string,
  ) {
    super(`${problem}; ${fix}`);
    this.name = "SshError";
  }
}

/** The last non-empty line of ssh's stderr. */
export function lastLine(stderr: string): string {
  return stderr.split("\n").map((l) => l.trim()).filter(Boolean).pop() ?? "";
}

/** Who mup tried to log in as, for messages. */
export interface LoginDescription {
  user?: string;
  port?: number;
  identityFile?: string;
  loginFrom?: { user?: string; key?: string };
  connectTimeoutS: number;
  strictHostKeys?: boolean;
  proxyJump?: string;
}

/**
 * Where a refused login's user and key came from, and where else they can be given: "the user
 * from the topology's global.user, the key from -i/--identity-file"; with neither given, the
 * options and the topology fields that set them.
 */
function loginSources(login: LoginDescription): string {
  const user = login.loginFrom?.user, key = login.loginFrom?.key;
  if (!user && !key) {
    return "--user and -i/--identity-file, or global.user and global.ssh_identity_file in the " +
      "topology";
  }
  return [
    user ? `the user from ${user}` : "the user: --user or the topology's global.user",
    key ? `the key from ${key}` : "the key: -i/--identity-file or global.ssh_identity_file",
  ].join(", ");
}

/**
 * A host as known_hosts names it: `host`, or `'[host]:port'` off port 22 (quoted for a shell),
 * as ssh-keygen -R needs it.
 */
function knownHostsName(host: string, port: number | undefined): string {
  return port && port !== 22 ? `'[${host}]:${port}'` : host;
}

/**
 * Turns a failed ssh(1) run (exit 255, OpenSSH's "the connection failed") into an SshError.
 * Recognises OpenSSH's messages: name resolution, refused or timed-out connections, refused
 * authentication, changed or unknown host keys.
 */
export function classifySshFailure(
  host: string,
  login: LoginDescription,
  code: number,
  stderr: string,
): SshError {
  const last = lastLine(stderr);
  const where = `${host}${login.port ? ` port ${login.port}` : ""}`;
  if (/Could not resolve hostname|Name or service not known|nodename nor servname/i.test(stderr)) {
    return new SshError(
      host,
      "unknown_host",
      `cannot resolve host name ${host} (ssh exit ${code}: ${last})`,
      "check the host name in the topology, DNS or /etc/hosts",
    );
  }
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for .* has changed/i.test(stderr)) {
    return new SshError(
      host,
      "host_key_changed",
      `the SSH host key of ${where} has changed since it was first seen: refusing to connect`,
      `if the host was reinstalled, remove its old key (ssh-keygen -R ${
        knownHostsName(host, login.port)
      }, or from the known_hosts file you use: -f <file>) and retry; otherwise find out who answers at that address`,
    );
  }
  if (
    /No .*host key is known|Host key verification failed/i.test(stderr) && !login.strictHostKeys
  ) {
    return new SshError(
      host,
      "host_key_unknown",
      `the SSH host key of ${where}${
        login.proxyJump ? ` or of the jump host ${login.proxyJump}` : ""
      } could not be verified (${last})`,
      "check that the known_hosts file is writable (UserKnownHostsFile) and holds no conflicting key",
    );
  }
  if (/No .*host key is known|Host key verification failed/i.test(stderr)) {
    return new SshError(
      host,
      "host_key_unknown",
      `the SSH host key of ${where} is not known and --strict-host-keys is set`,
      `add the host's key to known_hosts (check its fingerprint first: ssh-keyscan ${
        login.port && login.port !== 22 ? `-p ${login.port} ` : ""
      }${host}), or run without --strict-host-keys to accept a new key`,
    );
  }
  if (/Permission denied|Too many authentication failures/i.test(stderr)) {
    const key = login.identityFile ? `key ${login.identityFile}` : "ssh's default keys and agent";
    return new SshError(
      host,
      "auth_refused",
      `${where} refused authentication for user ${
        login.user ?? "(ssh's default user)"
      } with ${key} (${last})`,
      `add the public key to ~/.ssh/authorized_keys of that user on ${host}, or give the right ` +
        `user and key (${loginSources(login)}; mup never asks for passwords)`,
    );
  }
  if (/timed out/i.test(stderr)) {
    return new SshError(
      host,
      "timeout",
      `cannot reach ${where}: no connection within ${login.connectTimeoutS}s (ssh exit ${code}: ${last})`,
      "check that the host is up and the network lets SSH through (--ssh-proxy for a jump host); --ssh-timeout sets the wait",
    );
  }
  return new SshError(
    host,
    "unreachable",
    `cannot reach ${where} over SSH (ssh exit ${code}: ${last || "no message"})`,
    `check that sshd runs on ${host}${
      login.port ? ` and listens on port ${login.port}` : ""
    } and that the network lets you through (ssh_port in the topology, --ssh-proxy for a jump host)`,
  );
}
