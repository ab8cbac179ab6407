/**
 * Pre-flight of a keyfile of the user's own (`global.security.keyfile`): it is copied into the
 * cluster's secrets by the first operation that needs it, mid-apply, after directories are
 * made. A file that cannot be read, or is not a MongoDB keyfile, is refused here instead, naming
 * the topology file, line and field.
 */
import { checkKeyfile, keyfileSource } from "../security/secrets.ts";
import { Positions } from "../topology/positions.ts";
import type { CheckResult, ValidationIssue } from "../plan/schema.ts";
import type { SourceLocation } from "../errors.ts";

/**
 * The keyfile check of a deploy whose secrets do not hold a keyfile yet; undefined when the
 * topology names none. `topologyFile` is read again only to place a problem.
 */
export async function checkUserKeyfile(
  keyfile: string | undefined,
  topologyFile: string,
): Promise<{ check: CheckResult; issue?: ValidationIssue } | undefined> {
  if (!keyfile) return undefined;
  const file = keyfileSource(keyfile);
  let problem: string | undefined;
  try {
    checkKeyfile(await Deno.readTextFile(file), file);
  } catch (e) {
    problem = e instanceof Deno.errors.NotFound
      ? `${file} does not exist`
      : e instanceof Deno.errors.PermissionDenied
      ? `${file} cannot be read (permission denied)`
      : (e as Error).message;
  }
  if (!problem) {
    return {
      check: {
        name: "keyfile",
        status: "passed",
        duration: 0,
        message: `Keyfile ${file} is valid`,
      },
    };
  }
  const at: SourceLocation = await Deno.readTextFile(topologyFile)
    .then((text) => Positions.of(text, topologyFile))
    .then((p) => p.locate(["global", "security", "keyfile"]))
    .catch(() => ({ file: topologyFile, path: "global.security.keyfile" }));
  const where = `${at.file}${at.line ? `:${at.line}:${at.column}` : ""}: global.security.keyfile`;
  const message = `${where}: ${problem} (make one with \`openssl rand -base64 756\` ` +
    "and chmod 400 it, or remove the field and mup generates the keyfile)";
  return {
    check: { name: "keyfile", status: "failed", duration: 0, message },
    issue: { code: "keyfile", severity: "error", message },
  };
}
