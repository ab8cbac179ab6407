/**
 * Reading a plan file into a Plan: JSON syntax, format version and schema.
 *
 * sealPlan writes each operation on a line of its own. Those lines are parsed and checked one
 * at a time, so the raw JSON of a large plan is never held as one tree beside the parsed plan
 * (each line's raw objects die young), and a problem in an operation is reported with its line.
 * A file laid out any other way is parsed whole, with the same checks.
 */
import { z } from "zod";
import { OPERATION_DEPTH } from "./hash.ts";
import { newerFormatText } from "../state/format_version.ts";
import {
  Plan,
  PLAN_FORMAT_VERSION,
  PlannedOperation,
  PlannedPhase,
  type ValidationIssue,
} from "./schema.ts";

export interface ParsedPlan {
  plan?: Plan;
  issues: ValidationIssue[];
}

/** Schema problems reported one by one before the rest are counted. */
const MAX_SCHEMA_ISSUES = 50;

export function parsePlanText(text: string, file: string): ParsedPlan {
  const cut = cutOperationLines(text);
  return (cut && parseByLines(text, cut, file)) ?? parseWhole(text, file);
}

// ---- the plan without its operations (the shell), and the operations apart

/** A plan whose phases' operations are checked apart from the rest of it. */
const PlanShell = Plan.extend({
  phases: z.array(PlannedPhase.extend({ operations: z.array(z.unknown()) })),
});

/** One phase's operations, still to be parsed, and each one's line (when read by lines). */
interface RawOperations {
  count: number;
  /** The raw JSON of operation `j`; undefined when it is not JSON (only from a line). */
  raw(j: number): { value: unknown } | undefined;
  line?: (j: number) => number;
}

/**
 * Checks the shell, then each operation; `ops[i]` are phase i's operations, which the shell
 * holds as an empty array.
 */
function assemble(
  shell: unknown,
  ops: (RawOperations | undefined)[],
  file: string,
): ParsedPlan | undefined {
  const fv = (shell as { format_version?: unknown })?.format_version;
  if (fv !== PLAN_FORMAT_VERSION) {
    return {
      issues: [{
        code: "format_version",
        severity: "error",
        message: fv === undefined
          ? `${file}: not a mup plan: it has no format_version (every plan mup writes starts ` +
            `with "format_version": ${PLAN_FORMAT_VERSION}). Make a plan with \`mup cluster … ` +
            "--plan-only` or export one with `mup plan export`"
          : typeof fv === "number" && Number.isInteger(fv) && fv > PLAN_FORMAT_VERSION
          ? `${file}: ${newerFormatText(fv, PLAN_FORMAT_VERSION)}. Apply it with that mup, or ` +
            "plan again with this one"
          : `${file}: unsupported plan format version ${
            JSON.stringify(fv)
          }; this mup reads version ${PLAN_FORMAT_VERSION}. Regenerate the plan with this mup.`,
      }],
    };
  }
  const issues = new SchemaIssues(file);
  const parsedShell = PlanShell.safeParse(shell);
  if (!parsedShell.success) {
    for (const i of parsedShell.error.issues) issues.add(i.path, i.message);
  }
  const phases: PlannedOperation[][] = [];
  for (const [p, phaseOps] of ops.entries()) {
    const out: PlannedOperation[] = [];
    for (let j = 0; phaseOps && j < phaseOps.count; j++) {
      const raw = phaseOps.raw(j);
      if (raw === undefined) return undefined; // a line that is not JSON on its own
      const op = PlannedOperation.safeParse(raw.value);
      if (op.success) out.push(op.data);
      else {
        for (const i of op.error.issues) {
          issues.add(["phases", p, "operations", j, ...i.path], i.message, phaseOps.line?.(j));
        }
      }
    }
    phases.push(out);
  }
  if (!parsedShell.success || issues.count) return { issues: issues.list() };
  const plan = parsedShell.data as Plan;
  plan.phases.forEach((ph, p) => ph.operations = phases[p] ?? []);
  return { plan, issues: [] };
}

/** What every schema refusal ends with. */
const SCHEMA_FIX = "Plans are made by mup, not written by hand: make a new one with the `mup " +
  "cluster` command that made this one (`--plan-only`, or `--plan-file <file>` for a copy), and " +
  "review it with `mup plan show`";

class SchemaIssues {
  private readonly issues: ValidationIssue[] = [];
  count = 0;
  constructor(private readonly file: string) {}

  add(path: PropertyKey[], message: string, line?: number): void {
    if (this.count++ >= MAX_SCHEMA_ISSUES) return;
    this.issues.push({
      code: "schema",
      severity: "error",
      message: `${this.file}${line ? `:${line}` : ""}: ${z.core.toDotPath(path)}: ${message}`,
    });
  }

  list(): ValidationIssue[] {
    const all = this.count <= MAX_SCHEMA_ISSUES ? [...this.issues] : [...this.issues, {
      code: "schema",
      severity: "error" as const,
      message: `${this.file}: ${this.count - MAX_SCHEMA_ISSUES} more schema problems not shown`,
    }];
    // The way forward, once: a plan file is mup's output, so the fix is a new one, not an edit.
    const last = all.at(-1);
    if (last) {
      all[all.length - 1] = {
        ...last,
        message: `${last.message}. ${SCHEMA_FIX}`,
      };
    }
    return all;
  }
}

// ---- a file in any layout: one JSON tree

function parseWhole(text: string, file: string): ParsedPlan {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return {
      issues: [{
        code: "json_syntax",
        severity: "error",
        message: `${file}: ${jsonPosition(text, e as Error)}`,
      }],
    };
  }
  const phases = (raw as { phases?: unknown })?.phases;
  const ops = Array.isArray(phases)
    ? phases.map((ph) => {
      const list = (ph as { operations?: unknown })?.operations;
      if (!Array.isArray(list)) return undefined;
      (ph as { operations: unknown[] }).operations = [];
      return { count: list.length, raw: (j: number) => ({ value: list[j] }) };
    })
    : [];
  // Every raw value is JSON here, so assemble() always gives an answer.
  return assemble(raw, ops, file)!;
}

function jsonPosition(text: string, e: Error): string {
  const m = /position (\d+)/.exec(e.message);
  // V8 quotes the text it read ("root:x:0:0"…): the file's contents stay out of the message.
  if (!m) return `invalid JSON: ${e.message.replace(/, ".*is not valid JSON$/s, "")}`;
  const pos = Number(m[1]);
  const before = text.slice(0, pos).split("\n");
  return `invalid JSON at line ${before.length}, column ${before[before.length - 1].length + 1}: ${
    e.message.replace(/ in JSON at position \d+.*$/, "")
  }`;
}

// ---- a file as sealPlan lays it out: one operation per line

// sealPlan's layout: jsonPieces indents two spaces a level, and each operation sits on its own
// line at OPERATION_DEPTH, below its phase's "operations" key.
const KEY = `\n${"  ".repeat(OPERATION_DEPTH - 1)}"operations": `;
const OPEN = `${KEY}[\n`;
const CLOSE = `\n${"  ".repeat(OPERATION_DEPTH - 1)}]`;
const OP_LINE = `${"  ".repeat(OPERATION_DEPTH)}{"`;
/** Stands in the shell for a cut array: it cannot occur in a plan mup writes. */
const MARK = "\u0000mup-operation-lines:";

interface Block {
  /** Where each operation's line starts in the text. */
  starts: number[];
  /** Line number of the first operation. */
  firstLine: number;
}

/**
 * Cuts the operation lines out of a plan file in sealPlan's layout: the shell is the rest of the
 * text with a marker in place of each array. Undefined when the text is laid out otherwise.
 */
function cutOperationLines(text: string): { shell: string; blocks: Block[] } | undefined {
  const parts: string[] = [];
  const blocks: Block[] = [];
  let pos = 0;
  let line = 1;
  for (let open = text.indexOf(OPEN); open >= 0; open = text.indexOf(OPEN, pos)) {
    const first = open + OPEN.length;
    const close = text.indexOf(CLOSE, first - 1);
    if (close < 0) return undefined;
    for (let i = text.indexOf("\n", pos); i >= 0 && i < first; i = text.indexOf("\n", i + 1)) {
      line++;
    }
    const starts: number[] = [];
    for (let s = first; s <= close;) {
      const nl = text.indexOf("\n", s);
      const comma = text[nl - 1] === ",";
      const end = comma ? nl - 1 : nl;
      if (!text.startsWith(OP_LINE, s) || text[end - 1] !== "}") return undefined;
      // JSON's commas: between operations, never after the last (the whole-file parse, as
      // strict as JSON.parse, then says where: tester43).
      if (comma !== (nl + 1 <= close)) return undefined;
      starts.push(s);
      s = nl + 1;
    }
    parts.push(
      text.slice(pos, open),
      KEY + JSON.stringify(MARK + blocks.length),
    );
    blocks.push({ starts, firstLine: line });
    line += starts.length;
    pos = close + CLOSE.length;
  }
  if (blocks.length === 0) return undefined;
  parts.push(text.slice(pos));
  return { shell: parts.join(""), blocks };
}

function parseByLines(
  text: string,
  cut: { shell: string; blocks: Block[] },
  file: string,
): ParsedPlan | undefined {
  let shell: unknown;
  try {
    shell = JSON.parse(cut.shell);
  } catch {
    return undefined; // the whole-file parse reports where
  }
  const phases = (shell as { phases?: unknown })?.phases;
  if (!Array.isArray(phases)) return undefined;
  let used = 0;
  const ops = phases.map((ph) => {
    const mark = (ph as { operations?: unknown })?.operations;
    const block = typeof mark === "string" && mark.startsWith(MARK)
      ? cut.blocks[Number(mark.slice(MARK.length))]
      : undefined;
    if (!block) return undefined;
    used++;
    (ph as { operations: unknown[] }).operations = [];
    return {
      count: block.starts.length,
      raw: (j: number) => {
        const s = block.starts[j];
        const nl = text.indexOf("\n", s);
        try {
          return { value: JSON.parse(text.slice(s, text[nl - 1] === "," ? nl - 1 : nl)) };
        } catch {
          return undefined;
        }
      },
      line: (j: number) => block.firstLine + j,
    };
  });
  // A marker anywhere but in a phase: not sealPlan's layout after all.
  if (used !== cut.blocks.length) return undefined;
  return assemble(shell, ops, file);
}
