/**
 * The hints of YAML and key mistakes in a topology that are about where a line stands: its
 * indentation (a line deeper than the key above it, a member's key at column 1 ending its list)
 * and keys known elsewhere in the file. Pure: text and schema in, words out.
 */
import { didYouMean } from "../util/similar.ts";
import type { SourceLocation } from "../errors.ts";
import type { TopologyIssue } from "./validate.ts";
import { allKeys, homesOf, knownKeys } from "./schema_keys.ts";

/**
 * When the line holding `offset` is `key: value` and the next non-blank line is indented
 * deeper than that key: the next line's first character (its offset) and the line number of
 * the key (1-based). Otherwise undefined.
 */
export function deeperNextLine(
  text: string,
  offset: number,
): { offset: number; above: number } | undefined {
  const start = text.lastIndexOf("\n", offset - 1) + 1;
  const end = text.indexOf("\n", offset);
  if (end < 0) return undefined;
  const line = text.slice(start, end);
  const key = /^(\s*(?:- +)?)[^\s#][^:]*:\s+\S/.exec(line);
  if (!key) return undefined;
  const rest = text.slice(end + 1);
  // The next line a key (a list item there is another mistake: outdentedKey's).
  const next = /^(?:[ \t]*\r?\n)*( *)[^\s#-]/.exec(rest);
  if (!next || next[1].length <= key[1].length) return undefined;
  const above = text.slice(0, start).split("\n").length;
  return { offset: end + 1 + next[0].length - 1, above };
}

/**
 * The first line that holds, at column 1, a key the file's top level does not have but its
 * entries do (a member's `replica_set`), followed by indented lines: written there, it ends
 * the list above it. Its key and the offset of the line.
 */
export function outdentedKey(text: string): { key: string; offset: number } | undefined {
  const top = knownKeys([]);
  const all = allKeys();
  // Known in an entry, or a near spelling of such a key (`replicaset`).
  const misplaced = (k: string) =>
    !top.includes(k) && (homesOf(k).length > 0 || homesOf(didYouMean(k, all) ?? "").length > 0);
  let offset = 0;
  // The first of a run of such keys at column 1 (each ends the list, the first did).
  let first: { key: string; offset: number } | undefined;
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; offset += lines[i].length + 1, i++) {
    const line = lines[i];
    if (!line.trim() || line.trim().startsWith("#")) continue;
    const m = /^([A-Za-z_][\w-]*)\s*:/.exec(line);
    if (!m || !misplaced(m[1])) {
      first = undefined;
      continue;
    }
    first ??= { key: m[1], offset };
    const next = lines.slice(i + 1).find((l) => l.trim() && !l.trim().startsWith("#"));
    if (next && /^\s/.test(next)) return first;
  }
  return undefined;
}

/** The parser's errors that a line indented too little or too much gives. */
export const INDENT_ERRORS = new Set([
  "BAD_INDENT",
  "BLOCK_AS_IMPLICIT_KEY",
  "MULTILINE_IMPLICIT_KEY",
]);

/**
 * The fix for an unknown key with no near spelling. A key known elsewhere was most likely
 * indented wrongly (a member's `replica_set` at column 1 reads as a top-level key): removing it
 * would change what the file means, so the hint names where it belongs first.
 */
export function unknownKeyHint(key: string, known: string[]): string {
  const allowed = `allowed keys here: ${known.join(", ")}`;
  const homes = homesOf(key);
  if (homes.length === 0) {
    // Misspelt and misplaced at once (`replicaset:` at column 1): the spelling it may mean.
    const guess = didYouMean(key, allKeys());
    const there = guess ? homesOf(guess) : [];
    return there.length
      ? `did you mean "${guess}", a key of ${
        there.join(" or of ")
      }? Otherwise remove it (${allowed})`
      : `remove it; ${allowed}`;
  }
  // A key of a list's entries belongs indented under one; another (global.security's `tls`)
  // is moved under its mapping.
  const entries = homes.every((h) => h.startsWith("an entry of "));
  return `"${key}" is a key of ${homes.join(" or of ")}: ` +
    (entries
      ? "if this line belongs to the entry above it, indent it to line up with that entry's keys"
      : `move it there (under ${
        homes[0].replace(/^an entry of /, "").split(".").map((k) => `\`${k}:\``).join(", then ")
      }, indented)`) +
    `; otherwise remove it (${allowed})`;
}

/** Whether the leading whitespace of the line holding `offset` in `text` has a tab. */
export function tabIndented(text: string, offset: number): boolean {
  const start = text.lastIndexOf("\n", offset - 1) + 1;
  return /^ *\t/.test(text.slice(start));
}

/** A key written twice in one mapping: named, with the line of its first occurrence. */
export function duplicateKeyIssue(
  dup: { key: string; path: string; first?: SourceLocation },
  location: SourceLocation,
): TopologyIssue {
  const first = !dup.first?.line
    ? ""
    : dup.first.line === location.line
    ? ` (first at line ${dup.first.line}, column ${dup.first.column})`
    : ` (first at line ${dup.first.line})`;
  return {
    severity: "error",
    code: "duplicate_key",
    message: `duplicate key "${dup.key}"${first}: a mapping may hold each key once`,
    hint: `keep one \`${dup.key}:\` in this mapping and remove the other`,
    location,
    ...(dup.first ? { first_occurrence: dup.first } : {}),
  };
}

/** The mapping key written at `offset` in `text` (js-yaml points there), for messages. */
export function keyAt(text: string, offset: number): string {
  return /^\s*["']?([^"':\n]*)/.exec(text.slice(offset))?.[1].trim() ?? "";
}
