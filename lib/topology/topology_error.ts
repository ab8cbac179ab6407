/** The error of a topology file with problems, each located and with its fix. */
import { MupError } from "../errors.ts";
import type { TopologyIssue } from "./validate.ts";

export class TopologyError extends MupError {
  constructor(readonly file: string, readonly issues: TopologyIssue[]) {
    super(
      `${file}: ${issues.length} problem${issues.length === 1 ? "" : "s"} in the topology:\n` +
        issues.map((i) => "  " + formatIssue(i)).join("\n"),
      // Each issue says its fix on the terminal; the --json document has one hint too.
      {
        details: {
          file,
          issues,
          hint: (issues.length === 1 ? issues[0].hint : undefined) ??
            `each of issues gives its place and its fix; \`mup topology validate ${file}\` ` +
              "checks the file again",
        },
      },
    );
  }
}

export function formatIssue(i: TopologyIssue): string {
  const loc = i.location;
  const where = `${loc.file}${loc.line ? `:${loc.line}:${loc.column}` : ""}`;
  return `${where}: ${i.severity}: ${loc.path ? `${loc.path}: ` : ""}${i.message}` +
    (i.hint ? `\n      fix: ${i.hint}` : "");
}
