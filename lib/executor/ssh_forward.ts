/** Port forwarding over a host's OpenSSH master connection (`ssh -O forward`). */
import { lastLine, SshError } from "./ssh_errors.ts";

/** Deadline of the forward request (ms). */
const FORWARD_MS = 60_000;

/**
 * Forwards a free port on this machine's 127.0.0.1 to `target:port` as `host` sees it
 * (`ssh -O forward -L` over the host's master, so no new connection is made): a connection to
 * the returned local port arrives at the server from the remote host's own address, the
 * loopback one when `target` is. `args`: the host's ssh options (sshArgs), its master open.
 * Throws SshError when the host refuses it (AllowTcpForwarding).
 */
export async function forwardPort(
  args: string[],
  host: string,
  target: string,
  port: number,
): Promise<number> {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const local = (l.addr as Deno.NetAddr).port;
  l.close();
  const to = target.includes(":") ? `[${target}]` : target;
  const out = await new Deno.Command("ssh", {
    args: [...args, "-O", "forward", "-L", `127.0.0.1:${local}:${to}:${port}`, "--", host],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    signal: AbortSignal.timeout(FORWARD_MS),
  }).output();
  if (out.code !== 0) {
    throw new SshError(
      host,
      "unreachable",
      `cannot forward a port to ${target}:${port} on ${host}: ${
        lastLine(new TextDecoder().decode(out.stderr))
      }`,
      "allow TCP forwarding for this user in the host's sshd_config (AllowTcpForwarding)",
    );
  }
  return local;
}
