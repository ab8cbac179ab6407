import * as path from "node:path";
import type { Topology } from "./schema.ts";

/**
 * `topology` with the control machine's files it names (`global.security.keyfile`,
 * `global.ssh_identity_file`) made absolute: a relative one is the topology file's, as its hooks'
 * commands are, not the directory mup runs in (tester84); `~/` stays, read as the user's home.
 * Recorded absolute, a saved `cluster show-config` means the same file from anywhere. `file` is the
 * topology's path, or "-"/"<stdin>" (then the current directory). Pure but for the working
 * directory.
 */
export function withAbsoluteFiles(topology: Topology, file: string): Topology {
  const base = file === "-" || file === "<stdin>" ? Deno.cwd() : path.dirname(path.resolve(file));
  const fix = (p: string | undefined) =>
    p === undefined || p.startsWith("~/") || path.isAbsolute(p) ? p : path.resolve(base, p);
  const g = topology.global;
  const keyfile = fix(g.security?.keyfile);
  const identity = fix(g.ssh_identity_file);
  if (keyfile === g.security?.keyfile && identity === g.ssh_identity_file) return topology;
  return {
    ...topology,
    global: {
      ...g,
      ...(identity !== undefined ? { ssh_identity_file: identity } : {}),
      ...(g.security && keyfile !== undefined ? { security: { ...g.security, keyfile } } : {}),
    },
  };
}
