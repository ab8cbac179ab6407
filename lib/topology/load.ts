import * as jsyaml from "js-yaml";
import type { z } from "zod";
import { MupError, type SourceLocation } from "../errors.ts";
import { didYouMean } from "../util/similar.ts";
import { Positions } from "./positions.ts";
import { Topology } from "./schema.ts";
import { type TopologyIssue, validateTopology } from "./validate.ts";

export interface LoadedTopology {
  topology: Topology;
  file: string;
  warnings: TopologyIssue[];
}

export class TopologyError extends MupError {
  constructor(readonly file: string, readonly issues: TopologyIssue[]) {
    super(
      `${file}: ${issues.length} problem${issues.length === 1 ? "" : "s"} in the topology:\n` +
        issues.map((i) => "  " + formatIssue(i)).join("\n"),
      { details: { file, issues } },
    );
  }
}

export function formatIssue(i: TopologyIssue): string {
  const loc = i.location;
  const where = `${loc.file}${loc.line ? `:${loc.line}:${loc.column}` : ""}`;
  return `${where}: ${i.severity}: ${loc.path ? `${loc.path}: ` : ""}${i.message}` +
    (i.hint ? `\n      fix: ${i.hint}` : "");
}

/**
 * Parses and validates topology text. Throws TopologyError listing every problem found, each
 * located in the file (see Positions).
 */
export async function parseTopology(text: string, file: string): Promise<LoadedTopology> {
  let positions: Positions | undefined;
  const located = async () => positions ??= await Positions.of(text, file);

  let raw: unknown;
  try {
    raw = jsyaml.load(text, { schema: jsyaml.CORE_SCHEMA });
  } catch {
    // The positioned parser reports every syntax error with its place.
    const pos = await located();
    if (pos.doc.errors.length > 0) {
      throw new TopologyError(
        file,
        pos.doc.errors.map((e) => ({
          severity: "error",
          code: "yaml_syntax",
          message: e.message.split("\n")[0],
          hint: "fix the YAML syntax at this position",
          location: pos.at(e.pos[0]),
        })),
      );
    }
    raw = pos.doc.toJS();
  }
  raw ??= {};
  if (typeof raw !== "object" || Array.isArray(raw)) {
    throw new TopologyError(file, [{
      severity: "error",
      code: "not_a_mapping",
      message: "the topology must be a YAML mapping",
      hint: "start with `mongod_servers:` (see examples/)",
      location: (await located()).at(0),
    }]);
  }
  const parsed = Topology.safeParse(raw, { reportInput: true });
  if (!parsed.success) {
    const pos = await located();
    throw new TopologyError(
      file,
      parsed.error.issues.flatMap((i) => zodIssue(i, (p, key) => pos.locate(p, key))),
    );
  }
  const found = validateTopology(parsed.data);
  const pos = found.length > 0 ? await located() : undefined;
  const issues = found.map((i) => ({
    ...i,
    location: pos!.locate(i.path as (string | number)[]),
  }));
  const errors = issues.filter((i) => i.severity === "error");
  if (errors.length > 0) throw new TopologyError(file, errors);
  return {
    topology: parsed.data,
    file,
    warnings: issues.filter((i) => i.severity === "warning"),
  };
}

export async function loadTopology(file: string): Promise<LoadedTopology> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    throw new MupError(`cannot read topology file ${file}: ${(e as Error).message}`, {
      hint: "check the path; examples/ holds sample topologies",
    });
  }
  return await parseTopology(text, file);
}

function zodIssue(
  i: z.core.$ZodIssue,
  locate: (p: (string | number)[], key?: boolean) => SourceLocation,
): TopologyIssue[] {
  const path = i.path.filter((p) => typeof p !== "symbol") as (string | number)[];
  if (i.code === "unrecognized_keys") {
    const known = knownKeys(path);
    return i.keys.map((k) => {
      const guess = didYouMean(k, known);
      return {
        severity: "error" as const,
        code: "unknown_key",
        message: `unknown key "${k}"` + (guess ? ` (did you mean "${guess}"?)` : ""),
        hint: guess ? `rename it to "${guess}"` : `remove it; allowed keys: ${known.join(", ")}`,
        path: [...path, k],
        location: locate([...path, k], true),
      };
    });
  }
  let message = i.message;
  let hint = "correct the value";
  if (i.code === "invalid_type") {
    message = `expected ${i.expected}, got ${describe(i.input)}`;
    hint = `write a ${i.expected} here`;
  } else if (i.code === "too_small" || i.code === "too_big") {
    hint = "use a value within the allowed range";
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

/** The keys the schema allows at a path, for suggestions. */
function knownKeys(path: (string | number)[]): string[] {
  // deno-lint-ignore no-explicit-any
  let schema: any = Topology;
  for (const p of path) {
    schema = unwrap(schema);
    if (typeof p === "number") schema = schema?.element ?? schema?.options?.[1]?.element;
    else schema = schema?.shape?.[p];
  }
  schema = unwrap(schema);
  if (schema?.options) schema = schema.options.find((o: { shape?: unknown }) => o.shape);
  return Object.keys(schema?.shape ?? {});
}

// deno-lint-ignore no-explicit-any
function unwrap(s: any): any {
  while (s && (s.def?.type === "default" || s.def?.type === "optional")) s = s.def.innerType;
  return s;
}
