/**
 * What the topology schema allows where, for the hints of unknown keys: the keys of one
 * mapping, and the mappings elsewhere in the file where a key would be known.
 */
import { Topology } from "./schema.ts";

/** The keys the schema allows at a path (list indexes as numbers), for suggestions. */
export function knownKeys(path: (string | number)[]): string[] {
  // deno-lint-ignore no-explicit-any
  let schema: any = Topology;
  for (const p of path) {
    schema = unwrap(schema);
    if (typeof p === "number") schema = listElement(schema);
    else schema = schema?.shape?.[p];
  }
  return Object.keys(mapping(schema)?.shape ?? {});
}

/**
 * Where else in a topology `key` is a known key, as the user would read it: "an entry of
 * mongod_servers", "global", "global.server_configs.mongod". Nearest first (fewest levels), at
 * most `max`. A key written at the wrong indentation parses as a key of the mapping around it;
 * these are the places it may have meant to be.
 */
export function homesOf(key: string, max = 3): string[] {
  const found: { name: string; depth: number }[] = [];
  // deno-lint-ignore no-explicit-any
  const walk = (schema: any, name: string[], depth: number) => {
    const m = mapping(schema);
    if (!m?.shape || depth > 4) return;
    if (name.length > 0 && key in m.shape) found.push({ name: words(name), depth });
    for (const [k, child] of Object.entries(m.shape)) {
      const element = listElement(unwrap(child));
      if (element) walk(element, [...name, `[${k}]`], depth + 1);
      else walk(child, [...name, k], depth + 1);
    }
  };
  walk(Topology, [], 0);
  return found.sort((a, b) => a.depth - b.depth).slice(0, max).map((f) => f.name);
}

/** Every key the schema knows, at any level (for near spellings of keys in the wrong place). */
export function allKeys(): string[] {
  const keys = new Set<string>();
  // deno-lint-ignore no-explicit-any
  const walk = (schema: any, depth: number) => {
    const m = mapping(schema);
    if (!m?.shape || depth > 4) return;
    for (const [k, child] of Object.entries(m.shape)) {
      keys.add(k);
      walk(listElement(unwrap(child)) ?? child, depth + 1);
    }
  };
  walk(Topology, 0);
  return [...keys];
}

/** ["[mongod_servers]"] → "an entry of mongod_servers"; ["global", "x"] → "global.x". */
function words(name: string[]): string {
  const last = name[name.length - 1];
  const dotted = (parts: string[]) => parts.map((p) => p.replace(/^\[(.*)\]$/, "$1")).join(".");
  return last.startsWith("[") ? `an entry of ${dotted(name)}` : dotted(name);
}

// deno-lint-ignore no-explicit-any
function mapping(schema: any): any {
  const s = unwrap(schema);
  return s?.options ? s.options.find((o: { shape?: unknown }) => o.shape) : s;
}

// deno-lint-ignore no-explicit-any
function listElement(schema: any): any {
  const s = unwrap(schema);
  return s?.element ?? s?.options?.find((o: { element?: unknown }) => o.element)?.element;
}

// deno-lint-ignore no-explicit-any
function unwrap(s: any): any {
  while (s && (s.def?.type === "default" || s.def?.type === "optional")) s = s.def.innerType;
  return s;
}
