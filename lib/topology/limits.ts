/**
 * Limits on topology files, enforced while the YAML is read and before any value is built, so
 * a hostile or broken file (an alias bomb, nesting thousands of levels deep, megabytes of
 * servers) fails in well under a second with a located error instead of exhausting memory or
 * the stack.
 *
 * js-yaml's event parser (`parseEvents`) gives a flat list of events with source offsets and
 * bounds the nesting depth itself; walking those events counts what aliases would expand to
 * and how many processes the server lists hold, before `constructFromEvents` builds anything.
 */
import * as jsyaml from "js-yaml";

/**
 * YAML 1.2's core schema (so `0700` is 700, as YAML 1.2 reads it, and `yes` a string) with the
 * merge key `<<` that topologies of many entries use to share one anchored entry's settings
 * (`- <<: *member`), as docker compose files do.
 */
const TOPOLOGY_SCHEMA = jsyaml.CORE_SCHEMA.withTags([jsyaml.mergeTag]);
import { MupError, type SourceLocation } from "../errors.ts";
import { offsetLocator } from "./event_positions.ts";

export interface TopologyLimits {
  /** Largest topology file, in bytes. */
  maxBytes: number;
  /** Deepest nesting of mappings and sequences. */
  maxDepth: number;
  /** Most nodes that aliases (`*name`) may add to the document in all. */
  maxAliasNodes: number;
  /** Most entries in config_servers, mongod_servers and mongos_servers together. */
  maxProcesses: number;
}

/** The environment variables that raise each limit (where raising it makes sense). */
export const LIMIT_ENV = {
  maxBytes: "MUP_TOPOLOGY_MAX_BYTES",
  maxProcesses: "MUP_TOPOLOGY_MAX_PROCESSES",
} as const;

export const DEFAULT_LIMITS: TopologyLimits = {
  // A 3,000-process topology written one server per block is about 300 KB.
  maxBytes: 4 * 1024 * 1024,
  // Real topologies nest 5 or 6 levels (hooks → event → list → hook → environment → value).
  maxDepth: 64,
  maxAliasNodes: 10_000,
  // The planner's benchmark plans 3,000 processes; a single mup deployment beyond this is
  // far outside what it was measured for.
  maxProcesses: 10_000,
};

/** The limits in force: the defaults, raised (or lowered) by the environment variables. */
export function topologyLimits(): TopologyLimits {
  const out = { ...DEFAULT_LIMITS };
  for (const [key, env] of Object.entries(LIMIT_ENV) as [keyof typeof LIMIT_ENV, string][]) {
    const v = Deno.env.get(env);
    if (v === undefined) continue;
    if (!/^\d+$/.test(v.trim())) {
      throw new MupError(`${env}=${v} is not a whole number`, {
        hint: `set ${env} to a number (the default is ${DEFAULT_LIMITS[key]}), or unset it`,
      });
    }
    out[key] = Number(v.trim());
  }
  return out;
}

/** A limit exceeded or an alias that names no anchor, located in the file. */
export interface LimitIssue {
  code:
    | "file_too_large"
    | "too_deep"
    | "alias_expansion"
    | "undefined_alias"
    | "too_many_processes"
    | "several_documents";
  message: string;
  hint: string;
  location: SourceLocation;
}

const SERVER_LISTS = new Set(["config_servers", "mongod_servers", "mongos_servers"]);

interface Frame {
  /** Nodes in this collection so far, counting what its aliases expand to. */
  size: number;
  anchor?: string;
  map: boolean;
  /** Children seen (keys and values, for a mapping). */
  children: number;
  /** The key this collection is the value of, when its parent is the root mapping. */
  rootKey?: string;
}

/**
 * Parses YAML text into its single document within `limits`. Returns the value, or the first
 * limit exceeded (or YAML syntax error, as `syntax`) with its place.
 */
export function loadLimited(
  text: string,
  file: string,
  limits: TopologyLimits,
  /** The file's size in bytes, when the text was read from one (else its UTF-8 length). */
  bytes?: number,
): { value: unknown; events: jsyaml.Event[]; duplicate?: jsyaml.YAMLException } | {
  issue: LimitIssue;
} | {
  syntax: jsyaml.YAMLException;
} {
  const at = offsetLocator(text, file);
  const big = fileTooLarge(file, bytes ?? new TextEncoder().encode(text).length, limits);
  if (big) return { issue: big };
  let events: jsyaml.Event[];
  try {
    events = jsyaml.parseEvents(text, { maxDepth: limits.maxDepth });
  } catch (e) {
    if (!(e instanceof jsyaml.YAMLException)) throw e;
    if (/exceeded maxDepth/.test(e.reason)) {
      return {
        issue: {
          code: "too_deep",
          message: `the YAML nests more than ${limits.maxDepth} levels deep`,
          hint:
            "a topology nests a few levels; flatten this value (runtime_config takes dotted keys)",
          location: e.mark ? { file, line: e.mark.line + 1, column: e.mark.column + 1 } : { file },
        },
      };
    }
    return { syntax: e };
  }
  const anchors = new Map<string, number>();
  const stack: Frame[] = [];
  let aliasNodes = 0;
  let processes = 0;
  let documents = 0;
  let lastRootKey: string | undefined;
  const anchorName = (s: number, e: number) => (s >= 0 ? text.slice(s, e) : undefined);
  // A node starts: an entry of a server list counts as a process from its first event, so the
  // walk stops at the entry that passes the limit.
  const entryStarts = (offset: number): LimitIssue | undefined => {
    const parent = stack[stack.length - 1];
    if (!parent || parent.map || !parent.rootKey || !SERVER_LISTS.has(parent.rootKey)) return;
    if (++processes <= limits.maxProcesses) return;
    return {
      code: "too_many_processes",
      message: `more than ${limits.maxProcesses} processes in the topology`,
      hint: `split the cluster, or raise the limit with ${LIMIT_ENV.maxProcesses}=<n>`,
      location: at(offset),
    };
  };
  // A node has ended: its size goes to its parent; a root-mapping key is kept for its value.
  const ended = (size: number, keyText?: () => string) => {
    const parent = stack[stack.length - 1];
    if (!parent) return;
    if (stack.length === 1 && parent.map && parent.children % 2 === 0) {
      lastRootKey = keyText?.();
    }
    parent.children++;
    parent.size += size;
  };
  for (const ev of events) {
    let issue: LimitIssue | undefined;
    switch (ev.type) {
      case jsyaml.EVENT_ID.DOCUMENT:
        documents++;
        break;
      case jsyaml.EVENT_ID.SEQUENCE:
      case jsyaml.EVENT_ID.MAPPING: {
        issue = entryStarts(ev.start);
        const parent = stack[stack.length - 1];
        const valueOfRootKey = stack.length === 1 && parent.map && parent.children % 2 === 1;
        stack.push({
          size: 1,
          map: ev.type === jsyaml.EVENT_ID.MAPPING,
          children: 0,
          anchor: anchorName(ev.anchorStart, ev.anchorEnd),
          rootKey: valueOfRootKey ? lastRootKey : undefined,
        });
        break;
      }
      case jsyaml.EVENT_ID.POP: {
        const f = stack.pop();
        if (!f) break;
        if (f.anchor !== undefined) anchors.set(f.anchor, f.size);
        ended(f.size);
        break;
      }
      case jsyaml.EVENT_ID.SCALAR: {
        issue = entryStarts(ev.valueStart);
        const name = anchorName(ev.anchorStart, ev.anchorEnd);
        if (name !== undefined) anchors.set(name, 1);
        ended(1, () => jsyaml.getScalarValue(text, ev));
        break;
      }
      case jsyaml.EVENT_ID.ALIAS: {
        const name = text.slice(ev.anchorStart, ev.anchorEnd);
        const size = anchors.get(name);
        // The alias's '*' sits just before its name.
        const where = at(Math.max(0, ev.anchorStart - 1));
        issue = entryStarts(Math.max(0, ev.anchorStart - 1));
        if (issue) break;
        if (size === undefined) {
          // Also an anchor still open: an alias inside its own anchor would make a cycle.
          issue = {
            code: "undefined_alias",
            message: `alias *${name} names no anchor defined before it`,
            hint: `define &${name} on a value above this alias, or write the value here`,
            location: where,
          };
          break;
        }
        aliasNodes += size;
        if (aliasNodes > limits.maxAliasNodes) {
          issue = {
            code: "alias_expansion",
            message: `aliases expand to more than ${limits.maxAliasNodes} values (at *${name}, ` +
              `which alone stands for ${size})`,
            hint: "aliases that repeat aliases grow exponentially; write the values out",
            location: where,
          };
          break;
        }
        ended(size);
        break;
      }
    }
    if (issue) return { issue };
  }
  if (documents > 1) {
    return {
      issue: {
        code: "several_documents",
        message: "the file holds more than one YAML document",
        hint: "remove the `---` separators: a topology is one document",
        location: at(Math.max(0, text.search(/^---/m))),
      },
    };
  }
  const construct = (json: boolean): unknown =>
    jsyaml.constructFromEvents(events, {
      source: text,
      filename: file,
      schema: TOPOLOGY_SCHEMA,
      json,
    })[0];
  try {
    return { value: construct(false), events };
  } catch (e) {
    // Unknown tags (`!!js/function`) and the like are found while building values.
    if (!(e instanceof jsyaml.YAMLException)) throw e;
    // A key written twice is an error, but the rest of the file can still be checked (the
    // later value standing in): the caller reports it with every other problem found.
    if (/duplicated mapping key/.test(e.reason)) {
      try {
        return { value: construct(true), events, duplicate: e };
      } catch {
        // another problem too: the syntax error stands alone
      }
    }
    return { syntax: e };
  }
}

/** The size check alone, for callers that can look before reading the file. */
export function fileTooLarge(
  file: string,
  bytes: number,
  limits: TopologyLimits,
): LimitIssue | undefined {
  if (bytes <= limits.maxBytes) return undefined;
  return {
    code: "file_too_large",
    message: `the file is ${bytes} bytes, more than the limit of ${limits.maxBytes}`,
    hint: `is this the right file? A topology of thousands of processes is a few hundred KB; ` +
      `raise the limit with ${LIMIT_ENV.maxBytes}=<bytes>`,
    location: { file, line: 1, column: 1 },
  };
}
