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
 * the list (or mapping) above it. Its key, the offset of the line, and what it ends: the
 * top-level key above it (`parent`) and whether that one holds a list.
 */
export function outdentedKey(
  text: string,
): { key: string; offset: number; parent?: string; list: boolean } | undefined {
  const top = knownKeys([]);
  const all = allKeys();
  // Known in an entry, or a near spelling of such a key (`replicaset`).
  const misplaced = (k: string) =>
    !top.includes(k) && (homesOf(k).length > 0 || homesOf(didYouMean(k, all) ?? "").length > 0);
  let offset = 0;
  // The first of a run of such keys at column 1 (each ends the list, the first did).
  let first: { key: string; offset: number; parent?: string; list: boolean } | undefined;
  // The last top-level key seen, and whether its block (its first line) is a list.
  let parent: string | undefined;
  let list = false;
  let firstChild = false;
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; offset += lines[i].length + 1, i++) {
    const line = lines[i];
    if (!line.trim() || line.trim().startsWith("#")) continue;
    const m = /^([A-Za-z_][\w-]*)\s*:/.exec(line);
    if (!m || !misplaced(m[1])) {
      first = undefined;
      if (m) [parent, list, firstChild] = [m[1], false, true];
      else if (firstChild) [list, firstChild] = [/^\s*-(\s|$)/.test(line), false];
      continue;
    }
    first ??= { key: m[1], offset, parent, list };
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

/**
 * The list item (`- `) on the line at `offset` when it starts at another column than the item
 * of its list above it: YAML then reads it as part of the entry above (deeper) or as no item
 * (shallower), and says so in errors at odd places. Its line's offset, both columns (1-based),
 * the line of the item above, and the offset where the item's lines end (the parser's errors
 * up to there are that one mistake).
 */
export function misalignedItem(
  text: string,
  offset: number,
): { offset: number; column: number; items: number; above: number; end: number } | undefined {
  const start = text.lastIndexOf("\n", offset - 1) + 1;
  const lines = text.slice(0, start).split("\n").slice(0, -1);
  const own = /^( *)-(\s|$)/.exec(text.slice(start));
  if (!own) return undefined;
  const indent = own[1].length;
  // Back to the item above: the lines between are its entry's (deeper than it), and the line
  // just above is no key opening a list of its own (then this item is that list's first).
  let deepest = Infinity;
  let first = true;
  for (let i = lines.length - 1; i >= 0; i--) {
    const l = lines[i];
    if (!l.trim() || l.trim().startsWith("#")) continue;
    const ind = /^ */.exec(l)![0].length;
    if (first && /:\s*(#.*)?$/.test(l)) return undefined;
    first = false;
    if (!/^ *-(\s|$)/.test(l)) {
      deepest = Math.min(deepest, ind);
      continue;
    }
    if (ind === indent || deepest <= ind) return undefined;
    // The item's own lines: up to the next line at or left of the list's column.
    const after = text.slice(start).split("\n");
    let end = start + after[0].length + 1;
    for (const a of after.slice(1)) {
      if (a.trim() && /^ */.exec(a)![0].length <= Math.min(ind, indent)) break;
      end += a.length + 1;
    }
    return { offset: start + indent, column: indent + 1, items: ind + 1, above: i + 1, end };
  }
  return undefined;
}

/**
 * The key on the line at `offset` when it stands left of its list entry's keys but right of its
 * `-`: YAML reads it as belonging to no entry. Its offset, its column, its entry's keys' column
 * (1-based) and that entry's line.
 */
export function misalignedKey(
  text: string,
  offset: number,
): { offset: number; column: number; keys: number; entry: number } | undefined {
  const start = text.lastIndexOf("\n", offset - 1) + 1;
  const own = /^( *)[A-Za-z_][\w-]*\s*:/.exec(text.slice(start));
  if (!own) return undefined;
  const indent = own[1].length;
  const lines = text.slice(0, start).split("\n").slice(0, -1);
  for (let i = lines.length - 1; i >= 0; i--) {
    const l = lines[i];
    if (!l.trim() || l.trim().startsWith("#")) continue;
    const item = /^( *)-( +)\S/.exec(l);
    const ind = /^ */.exec(l)![0].length;
    if (!item) {
      if (ind < indent) return undefined;
      continue;
    }
    if (ind >= indent) continue;
    const keys = item[1].length + 1 + item[2].length;
    return indent < keys
      ? { offset: start + indent, column: indent + 1, keys: keys + 1, entry: i + 1 }
      : undefined;
  }
  return undefined;
}

/** The error for misalignedKey's finding, at `location` (the key). */
export function misalignedKeyIssue(
  key: { column: number; keys: number; entry: number },
  location: SourceLocation,
): TopologyIssue {
  return {
    severity: "error",
    code: "yaml_syntax",
    message: `this key is at column ${key.column}, but the keys of its entry (line ${key.entry}) ` +
      `start at column ${key.keys}: YAML reads it as belonging to no entry`,
    hint: `start it at column ${key.keys}, in line with the first key after the entry's \`- \``,
    location,
  };
}

/** The error for misalignedItem's finding, at `location` (the item's `-`). */
export function misalignedItemIssue(
  item: { column: number; items: number; above: number },
  location: SourceLocation,
): TopologyIssue {
  return {
    severity: "error",
    code: "yaml_syntax",
    message: `this list item's "-" is at column ${item.column}, but the item above it (line ` +
      `${item.above}) starts at column ${item.items}: YAML reads it as ${
        item.column > item.items ? "part of the entry above" : "no item of that list"
      }`,
    hint: `start it at column ${item.items}, as the items above it: the entries of one list ` +
      "line up their `- `, and each entry's keys line up with the first key after its `- `",
    location,
  };
}

/**
 * A parser error at `offset` (of code `code`) that is a list item or a key standing at the
 * wrong column (misalignedItem, misalignedKey): the issue to give instead, its offset, and the
 * offset up to which the parser's other errors are that same mistake.
 */
export function misplacedLine(
  text: string,
  offset: number,
  code: string,
): { offset: number; end: number; issue: (at: SourceLocation) => TopologyIssue } | undefined {
  const item = misalignedItem(text, offset);
  if (item) return { ...item, issue: (at) => misalignedItemIssue(item, at) };
  const key = INDENT_ERRORS.has(code) || code === "MISSING_CHAR"
    ? misalignedKey(text, offset)
    : undefined;
  if (!key) return undefined;
  const eol = text.indexOf("\n", key.offset);
  return {
    offset: key.offset,
    end: eol < 0 ? text.length : eol,
    issue: (at) => misalignedKeyIssue(key, at),
  };
}

/**
 * Keys written at the column of the empty key above them (`runtime_config:` with its options
 * not indented under it): YAML reads them as keys of the mapping around, so zod says the one
 * "is empty" and the others unknown, and "remove it" would drop a setting. Each such unknown
 * key is said to belong under the empty one, at its column; the empty key's own error goes.
 * Keys the empty one does not take (runtime_config takes any) are left as they are.
 */
export function underEmptyKey(issues: TopologyIssue[]): TopologyIssue[] {
  const dropped = new Set<TopologyIssue>();
  const out = issues.map((u) => {
    if (u.code !== "unknown_key" || !u.path?.length || !u.location.line) return u;
    const parent = u.path.slice(0, -1);
    const key = String(u.path.at(-1));
    // The empty key on a line above it, in the same mapping and column, with only such keys
    // between them.
    const empty = issues.find((e) =>
      e.code === "invalid_type" && e.message.startsWith("is empty") &&
      e.path?.length === u.path!.length &&
      e.path.slice(0, -1).join("\0") === parent.join("\0") &&
      e.location.column === u.location.column && (e.location.line ?? 0) < u.location.line! &&
      issues.filter((x) =>
          x.code === "unknown_key" && x.location.column === u.location.column &&
          x.location.line! > e.location.line! && x.location.line! < u.location.line!
        ).length === u.location.line! - e.location.line! - 1
    );
    if (!empty) return u;
    const under = String(empty.path!.at(-1));
    if (under !== "runtime_config" && !knownKeys([...parent, under]).includes(key)) return u;
    dropped.add(empty);
    const column = (u.location.column ?? 1) + 2;
    return {
      ...u,
      message: `"${key}" is at the column of "${under}" (line ${empty.location.line}), which ` +
        `is empty: YAML reads it as a key of the mapping around, not of ${under}`,
      hint: `indent it under ${under}: start it at column ${column}`,
    };
  });
  return out.filter((i) => !dropped.has(i));
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

/** Other tools' names for hook events, and the event each means here (tester41). */
export const HOOK_ALIASES: Record<string, string> = {
  on_failure: "on_error",
  on_fail: "on_error",
  on_failed: "on_error",
  on_complete: "on_success",
  on_completion: "on_success",
  pre_plan: "before_plan",
  post_plan: "after_plan",
  pre_apply: "before_apply",
  post_apply: "after_apply",
};
