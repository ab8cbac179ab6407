import type { z } from "zod";
import type { Event, YAMLException } from "js-yaml";
import type { SourceLocation } from "../errors.ts";
import { didYouMean } from "../util/similar.ts";
import { fileTooLarge, loadLimited, topologyLimits } from "./limits.ts";
import { readUserText } from "../util/read_text.ts";
import { Positions } from "./positions.ts";
import { EventPositions } from "./event_positions.ts";
import { Topology } from "./schema.ts";
import { withAbsoluteFiles } from "./file_paths.ts";
import { knownKeys } from "./schema_keys.ts";
import {
  deeperNextLine,
  duplicateKeyIssue,
  HOOK_ALIASES,
  INDENT_ERRORS,
  keyAt,
  misplacedLine,
  outdentedKey,
  tabIndented,
  underEmptyKey,
  unknownKeyHint,
} from "./hints.ts";
import { type ServerTarget, type TopologyIssue, validateTopology } from "./validate.ts";
import { TopologyError } from "./topology_error.ts";

export { formatIssue, TopologyError } from "./topology_error.ts";
import { intOptionPaths } from "./runtime_options.ts";

export interface LoadedTopology {
  topology: Topology;
  file: string;
  warnings: TopologyIssue[];
}

/**
 * Parses and validates topology text. Throws TopologyError listing every problem found, each
 * located in the file (see Positions).
 *
 * @param target the server distribution and version the topology is for (see validateTopology).
 */
export async function parseTopology(
  text: string,
  file: string,
  bytes?: number,
  target?: ServerTarget,
): Promise<LoadedTopology> {
  let positions: Positions | undefined;
  const located = async () => positions ??= await Positions.of(text, file);

  const limited = loadLimited(text, file, topologyLimits(), bytes);
  if ("issue" in limited) {
    throw new TopologyError(file, [{ severity: "error", ...limited.issue }]);
  }
  if ("syntax" in limited) throw new TopologyError(file, await syntaxIssues(limited.syntax));
  // Keys written twice are reported with every other problem of the file.
  const duplicates = limited.duplicate ? await syntaxIssues(limited.duplicate) : [];
  try {
    const loaded = checkTopology(limited, text, file, target);
    if (duplicates.length) throw new TopologyError(file, duplicates);
    return loaded;
  } catch (e) {
    if (!duplicates.length || !(e instanceof TopologyError) || e.issues === duplicates) throw e;
    const all = [...duplicates, ...e.issues];
    throw new TopologyError(file, capped(all, all.length, file));
  }

  /**
   * Every syntax error with its place, from the positioned parser; js-yaml's own error (which
   * has a place too) when that parser finds none, or when the file is too large for it to
   * answer quickly (it parses about 300 KB a second).
   */
  async function syntaxIssues(e: YAMLException): Promise<TopologyIssue[]> {
    const pos = text.length <= POSITIONED_PARSE_MAX_CHARS ? await located() : undefined;
    let errors = (pos?.doc.errors ?? []).filter((e) => e.code !== "RESOURCE_EXHAUSTION");
    // A member's key at column 1 in the middle of a list: the errors after it are its
    // consequences; the key is the mistake, said as such.
    const outdented = errors.length > 0 ? outdentedKey(text) : undefined;
    const early = outdented ? errors.filter((e) => e.pos[0] < outdented.offset) : [];
    if (outdented && early.length < errors.length) errors = early;
    // One indentation mistake gives the parser several errors at one place: said once.
    const seen = new Set<number>();
    const keyIssue: TopologyIssue[] = outdented && errors === early
      ? [{
        severity: "error",
        code: "yaml_syntax",
        message: `"${outdented.key}" at column 1 is read as a key of the whole file, which ends ` +
          `the ${outdented.list ? "list" : "mapping"}${
            outdented.parent ? ` of "${outdented.parent}"` : ""
          } above it: the indented lines after it are then not where they belong`,
        hint: unknownKeyHint(outdented.key, knownKeys([])),
        location: pos!.at(outdented.offset),
      }]
      : [];
    let tabSeen = false;
    // The parser's errors within a misplaced item's lines: that one mistake.
    let itemEnd = -1;
    return errors.length + keyIssue.length > 0
      ? [
        ...keyIssue,
        ...errors.flatMap((e): TopologyIssue[] => {
          if (e.pos[0] < itemEnd) return [];
          const placed = misplacedLine(text, e.pos[0], e.code);
          if (placed) {
            itemEnd = placed.end;
            return [placed.issue(pos!.at(placed.offset))];
          }
          const dup = e.code === "DUPLICATE_KEY" ? pos!.duplicateKey(e.pos[0]) : undefined;
          if (dup) return [duplicateKeyIssue(dup, pos!.at(dup.start, dup.path))];
          const indent = INDENT_ERRORS.has(e.code) ||
            (e.code === "MISSING_CHAR" && /without - indicator/.test(e.message));
          if (indent && seen.has(e.pos[0])) return [];
          seen.add(e.pos[0]);
          // A tab in one line's indentation throws the parser off for the lines after it: what
          // it then says of them is that one mistake again (tester37).
          const tab = e.code === "TAB_AS_INDENT" || (indent && tabIndented(text, e.pos[0]));
          if ((indent || tab) && tabSeen) return [];
          if (tab) tabSeen = true;
          // A line indented deeper than the key above it continues that key's value: the
          // parser stops at the value, the mistake is on the next line.
          const deeper = indent ? deeperNextLine(text, e.pos[0]) : undefined;
          return [{
            severity: "error",
            code: "yaml_syntax",
            message: deeper
              ? `indented deeper than the key on line ${deeper.above} above it, so YAML reads ` +
                `it as part of that key's value (${e.message.split("\n")[0]})`
              : e.message.split("\n")[0],
            // A tab among spaces is often reported as a misaligned key (BAD_INDENT).
            hint: tab
              ? "indent with spaces: YAML does not allow tabs in indentation (line the key up " +
                "with the keys of its entry above, with spaces)"
              : indent
              ? "check this line's indentation against the lines above it: YAML nests by " +
                "indentation, and the keys of one entry line up (in a list, with the first key " +
                "after its `- `)"
              : "fix the YAML syntax at this position",
            location: pos!.at(deeper?.offset ?? e.pos[0]),
          }];
        }),
      ]
      : /duplicated mapping key/.test(e.reason) && e.mark
      ? [duplicateKeyIssue({ key: keyAt(text, e.mark.position), path: "" }, {
        file,
        line: e.mark.line + 1,
        column: e.mark.column + 1,
      })]
      : [{
        severity: "error",
        code: "yaml_syntax",
        message: e.reason,
        hint: "fix the YAML syntax at this position",
        location: e.mark ? { file, line: e.mark.line + 1, column: e.mark.column + 1 } : { file },
      }];
  }
}

/**
 * The parsed file's value checked: a mapping, a topology, its form (zod), then its entries
 * together (validateTopology). Throws TopologyError listing what is wrong.
 */
function checkTopology(
  limited: { value: unknown; events: Event[] },
  text: string,
  file: string,
  target?: ServerTarget,
): LoadedTopology {
  let raw: unknown;
  raw = limited.value;
  const events = new EventPositions(text, limited.events, file);
  raw ??= {};
  if (typeof raw !== "object" || Array.isArray(raw)) {
    throw new TopologyError(file, [{
      severity: "error",
      code: "not_a_mapping",
      message: "the topology must be a YAML mapping",
      hint: "start with `mongod_servers:` (see examples/)",
      location: events.at(0),
    }]);
  }
  // Top-level `x-` keys are the file's own (anchors its entries merge, `<<: *member`), as in
  // docker compose files: not the topology's.
  raw = Object.fromEntries(Object.entries(raw as object).filter(([k]) => !k.startsWith("x-")));
  // A file that is no topology at all (a wrong path: /etc/shadow) is said to be so, without
  // echoing its keys, which may be secrets, into a terminal or a CI log.
  const top = knownKeys([]);
  const keys = Object.keys(raw as object);
  if (keys.length > 0 && !keys.some((k) => top.includes(k) || didYouMean(k, top))) {
    throw new TopologyError(file, [{
      severity: "error",
      code: "not_a_topology",
      message: `this is not a mup topology: none of its ${keys.length} top-level keys is one ` +
        `of ${top.join(", ")} (its content is not shown)`,
      hint: "check the path; a topology lists mongod_servers (and config_servers and " +
        "mongos_servers for a sharded cluster): see examples/",
      location: events.at(0),
    }]);
  }
  const parsed = Topology.safeParse(raw, { reportInput: true });
  if (!parsed.success) {
    const pos = events;
    throw new TopologyError(
      file,
      capped(
        underEmptyKey(
          parsed.error.issues.slice(0, MAX_ISSUES + 1).flatMap((i) =>
            zodIssue(i, (p, key) => pos.locate(p, key))
          ),
        ),
        parsed.error.issues.length,
        file,
      ),
    );
  }
  const found = validateTopology(parsed.data, target);
  // 0700 is octal to mongod but 700 to YAML 1.2: mup would write 700 (0o1274).
  for (const { path, value } of intOptionPaths(parsed.data)) {
    const written = events.written(path);
    if (!written || !/^[+-]?0\d+$/.test(written)) continue;
    const octal = parseInt(written.replace(/^[+-]/, ""), 8);
    found.push({
      severity: "error",
      code: "octal_number",
      path,
      message: `${written} is octal to mongod (a leading 0), but YAML 1.2, which mup reads, ` +
        `makes it ${value}: mup would write ${value}${
          Number.isNaN(octal) ? "" : `, not ${octal} (0o${octal.toString(8)})`
        }`,
      hint: `write '${written}' in quotes (mongod then reads it as octal) or the decimal ${
        Number.isNaN(octal) ? "value" : octal
      }`,
    });
  }
  // An option that is not one is the key's fault: placed at the key, not at its value
  // (tester111 #5).
  const atKey = new Set(["unknown_option", "option_removed"]);
  const issues = found.map((i) => ({
    ...i,
    location: events.locate(i.path as (string | number)[], atKey.has(i.code)),
  }));
  const errors = issues.filter((i) => i.severity === "error");
  if (errors.length > 0) throw new TopologyError(file, capped(errors, errors.length, file));
  return {
    topology: parsed.data,
    file,
    warnings: issues.filter((i) => i.severity === "warning"),
  };
}

/** Files larger than this get js-yaml's one located syntax error, not every error listed. */
const POSITIONED_PARSE_MAX_CHARS = 100_000;

/** Problems listed one by one; a file with thousands is summarised after these. */
const MAX_ISSUES = 50;

/** Problems in the file's order (line, then column), at most MAX_ISSUES of them listed. */
function capped(found: TopologyIssue[], total: number, file: string): TopologyIssue[] {
  const at = (i: TopologyIssue) => [i.location.line ?? 0, i.location.column ?? 0];
  const issues = [...found].sort((a, b) => at(a)[0] - at(b)[0] || at(a)[1] - at(b)[1]);
  if (issues.length <= MAX_ISSUES && total <= MAX_ISSUES) return issues;
  return [...issues.slice(0, MAX_ISSUES), {
    severity: "error",
    code: "more_problems",
    message: `${Math.max(total, issues.length) - MAX_ISSUES} more problems not shown`,
    hint: "fix the problems above and validate again",
    location: { file },
  }];
}

/** Reads, parses and validates a topology file (see parseTopology). */
export async function loadTopology(
  file: string,
  target?: ServerTarget,
): Promise<LoadedTopology> {
  // Looked at before reading: a huge file is refused without being read; a device or pipe
  // reports no size (/dev/zero, /dev/urandom): the read stops at the limit. The limit counts
  // the file's bytes, not the characters they decode to.
  const limits = topologyLimits();
  const { text, bytes } = await readUserText(file, {
    what: "topology file",
    hint: "check the path; examples/ holds sample topologies",
    maxBytes: limits.maxBytes,
    tooLarge: (n, stopped) => {
      const over = fileTooLarge(file, n, limits)!;
      return new TopologyError(file, [{
        severity: "error",
        ...over,
        ...(stopped
          ? {
            message:
              `the file holds more than the limit of ${limits.maxBytes} bytes (read stopped there)`,
          }
          : {}),
      }]);
    },
  });
  const loaded = await parseTopology(text, file, bytes, target);
  return { ...loaded, topology: withAbsoluteFiles(loaded.topology, file) };
}

function zodIssue(
  i: z.core.$ZodIssue,
  locate: (p: (string | number)[], key?: boolean) => SourceLocation,
): TopologyIssue[] {
  const path = i.path.filter((p) => typeof p !== "symbol") as (string | number)[];
  if (i.code === "unrecognized_keys") {
    const known = knownKeys(path);
    return i.keys.map((k) => {
      const guess = HOOK_ALIASES[k] && known.includes(HOOK_ALIASES[k])
        ? HOOK_ALIASES[k]
        : didYouMean(k, known);
      return {
        severity: "error" as const,
        code: "unknown_key",
        message: `unknown key "${k}"` + (guess ? ` (did you mean "${guess}"?)` : ""),
        hint: guess ? `rename it to "${guess}"` : unknownKeyHint(k, known),
        path: [...path, k],
        location: locate([...path, k], true),
      };
    });
  }
  if (i.code === "invalid_union") {
    // "Invalid input" says nothing: report the alternative the value came closest to (the one
    // whose problems lie deepest, e.g. a hook mapping rather than a list of hooks).
    const depth = (issues: z.core.$ZodIssue[]) => Math.max(...issues.map((x) => x.path.length));
    const best = [...i.errors].sort((a, b) => depth(b) - depth(a))[0];
    if (best?.length) {
      return best.flatMap((x) => zodIssue({ ...x, path: [...path, ...x.path] }, locate));
    }
  }
  let message = i.message;
  let hint = "correct the value";
  // A refinement may say how to fix what it refuses.
  const own = i.code === "custom" ? (i.params as { hint?: unknown } | undefined)?.hint : undefined;
  if (typeof own === "string") hint = own;
  if (i.code === "invalid_type") {
    // zod's names of types, in words: "int" is a whole number.
    const words: Record<string, string> = {
      int: "a whole number",
      number: "a number",
      string: "a string",
      boolean: "true or false",
      object: "a mapping (key: value)",
      record: "a mapping (key: value)",
      array: "a list",
    };
    const want = words[i.expected] ?? `a ${i.expected}`;
    // A key with nothing after it (`runtime_config:`) is YAML's null: say it is empty. A key not
    // written at all is missing: say which key to add (at its mapping's place).
    const key = path.at(-1);
    message = i.input === null
      ? `is empty: expected ${want}`
      : i.input === undefined
      ? `is required and missing: expected ${want}`
      : `expected ${want}, got ${describe(i.input)}`;
    hint = i.input === null
      ? `write ${want} after it, or remove the key`
      : i.input === undefined && typeof key === "string"
      ? `add \`${key}:\` with ${want} to this mapping`
      : `write ${want} here`;
    // An event of `hooks:` takes one hook or a list of them, each a mapping with a command.
    if (
      i.path[0] === "hooks" && i.expected === "object" &&
      (i.path.length === 2 || (i.path.length === 3 && typeof i.path[2] === "number"))
    ) {
      const cmd = typeof i.input === "string" ? JSON.stringify(i.input) : '"…"';
      hint = i.path.length === 2
        ? `a hook is a mapping with its command: \`${
          String(i.path[1])
        }: { command: ${cmd} }\`, or a list of such mappings`
        : `a hook is a mapping with its command: \`- { command: ${cmd} }\``;
    }
  } else if (i.code === "invalid_format" && i.message.startsWith("must be ")) {
    // A pattern's message says what the value must be: say what it is, and what to write.
    message = `${i.message}, not ${describe(i.input)}`;
    hint = `write ${i.message.slice("must be ".length)}`;
  } else if (
    i.code === "invalid_value" && i.path.at(-2) === "default_write_concern" && i.path.at(-1) === "w"
  ) {
    // w is "majority" or a number: zod reports the closest branch, the literal (tester71).
    message = i.input === undefined
      ? 'is required: "majority" or a whole number of members from 1'
      : `${describe(i.input)} is neither "majority" nor a whole number of members from 1`;
    hint = "write w: majority, or a number of members such as w: 2";
  } else if (i.code === "invalid_value") {
    const allowed = i.values.map(String);
    const guess = typeof i.input === "string" ? didYouMean(i.input, allowed) : undefined;
    message = `${describe(i.input)} is not one of: ${allowed.join(", ")}`;
    hint = guess ? `did you mean "${guess}"?` : `use one of: ${allowed.join(", ")}`;
  } else if (i.code === "too_small" || i.code === "too_big") {
    const small = i.code === "too_small";
    const bound = Number(small ? i.minimum : i.maximum);
    if (i.origin === "string" && small && bound === 1) {
      message = i.message.startsWith("Too small") ? "must not be empty" : i.message;
      hint = "write a value here, or remove the key";
    } else if (i.origin === "number") {
      const rel = small
        ? (i.inclusive ? "at least" : "more than")
        : (i.inclusive ? "at most" : "less than");
      message = `must be ${rel} ${bound}, not ${describe(i.input)}`;
      hint = `use a value ${rel} ${bound}`;
    } else hint = "use a value within the allowed range";
  }
  return [{ severity: "error", code: i.code, message, hint, path, location: locate(path) }];
}

function describe(v: unknown): string {
  if (v === undefined) return "nothing";
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "string") return `the string "${v}"`;
  if (typeof v === "object") return "a mapping";
  return `${typeof v} ${String(v)}`;
}
