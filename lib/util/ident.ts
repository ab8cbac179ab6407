/**
 * Identifiers that become file names under $MUP_HOME (cluster names, plan IDs, apply state IDs,
 * checkpoint IDs, process names) and the one guard that every path mup writes under its store
 * passes. Input from others (plans, topologies, state files, command arguments) is untrusted: a
 * `plan_id` of `../../x` must never name a file outside the store.
 */
import * as path from "node:path";
import { z } from "zod";
import { MupError } from "../errors.ts";

/**
 * The one identifier pattern: a letter or digit, then letters, digits, '.', '_' or '-', at most
 * 63 characters in all. No '/', no leading '.', so never "..", never a hidden file.
 */
export const IDENTIFIER_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
export const IDENTIFIER_RULE =
  "letters, digits, '.', '_' and '-', starting with a letter or digit, at most 63 characters";

/**
 * A process name, `<role>-<host>-<port>`: identifier characters plus those an IPv6 literal
 * needs (':', '[', ']', '%'); still no '/', so it is one path component and never "..".
 */
export const PROCESS_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:%\[\]-]{0,254}$/;
/** A host as a topology names it: a host name, an IPv4 address or an IPv6 literal. */
export const HOST_PATTERN = /^[A-Za-z0-9_.:%\[\]-]{1,253}$/;
export const HOST_RULE =
  "a host name, an IPv4 address or an IPv6 literal (letters, digits, '.', '-', '_', ':', '[', ']')";

export type IdentifierKind =
  | "cluster name"
  | "plan ID"
  | "state ID"
  | "checkpoint ID"
  | "plan ID or cluster name"
  | "process name";

/** The zod schema of an identifier, for every document that carries one. */
export const Identifier = z.string().regex(IDENTIFIER_PATTERN, `must be ${IDENTIFIER_RULE}`);
export const ProcessName = z.string().regex(
  PROCESS_NAME_PATTERN,
  "a process name is <role>-<host>-<port> with no '/'",
);

/** Whether `value` is a valid identifier of its kind. */
export function isIdentifier(value: string, kind: IdentifierKind = "cluster name"): boolean {
  return (kind === "process name" ? PROCESS_NAME_PATTERN : IDENTIFIER_PATTERN).test(value);
}

/**
 * Returns `value` when it is a valid identifier; throws a MupError naming the kind, the value
 * (escaped, so control characters show) and the rule otherwise. Call it on every identifier a
 * command receives before using it (CLI arguments, options).
 */
export function checkIdentifier(kind: IdentifierKind, value: string): string {
  if (isIdentifier(value, kind)) return value;
  throw new MupError(`invalid ${kind} ${JSON.stringify(value)}`, {
    hint: kind === "process name"
      ? "a process name is <role>-<host>-<port>, e.g. mongod-localhost-27017"
      : `a ${kind} names a file in mup's store: use ${IDENTIFIER_RULE}, e.g. ${
        ({
          "cluster name": "prod-cluster",
          "plan ID": "plan-1a2b3c4d",
          "state ID": "apply-1a2b3c4d",
          "checkpoint ID": "phase1-complete",
          "plan ID or cluster name": "plan-1a2b3c4d or prod-cluster",
        } as Record<string, string>)[kind]
      }`,
    details: { invalid: { kind, value } },
  });
}

/**
 * Proves that `target` lies inside `root` (the store: $MUP_HOME/storage, or a part of it) and
 * returns it resolved; throws a MupError otherwise. Lexical (after resolving '.' and '..'), and
 * also through symbolic links: the nearest existing ancestor of `target` must resolve inside
 * the real `root`. Call it before every write mup makes under its store.
 */
export function insideStore(root: string, target: string): string {
  const r = path.resolve(root);
  const t = path.resolve(r, target);
  const outside = (base: string, p: string) => {
    const rel = path.relative(base, p);
    return rel === ".." || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel);
  };
  let escapes = outside(r, t);
  if (!escapes) {
    const realRoot = realOrUndefined(r);
    if (realRoot !== undefined) {
      let probe = t;
      while (probe !== r && realOrUndefined(probe) === undefined) probe = path.dirname(probe);
      const real = realOrUndefined(probe);
      if (real !== undefined && outside(realRoot, real)) escapes = true;
    }
  }
  if (escapes) {
    throw new MupError(`refusing to write ${t}: it lies outside mup's store ${r}`, {
      hint: "an identifier (cluster name, plan ID, state ID) or a link in the store points " +
        "outside it; use plain identifiers and remove the link",
    });
  }
  return t;
}

/**
 * Whether `target` lies inside directory `root`, also through links: the nearest existing
 * ancestor of `target` is compared by its real path with `root`'s.
 */
export function liesInside(root: string, target: string): boolean {
  const r = path.resolve(root);
  const t = path.resolve(target);
  const inside = (base: string, p: string) => {
    const rel = path.relative(base, p);
    return !(rel === ".." || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel));
  };
  if (inside(r, t)) return true;
  const realRoot = realOrUndefined(r);
  if (realRoot === undefined) return false;
  let probe = t;
  while (realOrUndefined(probe) === undefined && path.dirname(probe) !== probe) {
    probe = path.dirname(probe);
  }
  const real = realOrUndefined(probe);
  return real !== undefined && inside(realRoot, real);
}

function realOrUndefined(p: string): string | undefined {
  try {
    return Deno.realPathSync(p);
  } catch {
    return undefined;
  }
}
