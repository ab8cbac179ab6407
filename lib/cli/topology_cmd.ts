import { Command, InvalidArgumentError, Option } from "@commander-js/extra-typings";
import { z } from "zod";
import { formatIssue, loadTopology } from "../topology/load.ts";
import { Topology, topologyKind } from "../topology/schema.ts";
import { Variant } from "../plan/schema.ts";
import { print, printJson } from "./context.ts";

/**
 * A --version validate can check a topology against: a release (7.0, 7.0.5, Percona's
 * 7.0.5-3) of a series mup's option table covers (6.0 to 8.x). Throws a usage error otherwise.
 */
function checkedVersion(v: string): string {
  if (!/^\d+\.\d+(\.\d+(-\d+)?)?$/.test(v)) {
    throw new InvalidArgumentError(`invalid version "${v}": use a release like 7.0 or 7.0.5`);
  }
  const major = Number(v.split(".")[0]);
  if (major < 6 || major > 8) {
    throw new InvalidArgumentError(
      `version ${v} is outside the series mup knows the options of (6.0 to 8.x): a topology ` +
        "for it cannot be checked",
    );
  }
  return v;
}

export function topologyCommand(): Command {
  const cmd = new Command("topology").description("Work with topology files");
  cmd.command("schema")
    .description(
      "Print the JSON Schema of topology files (for editors such as VS Code's YAML extension)",
    )
    // Accepted like everywhere else; the schema is JSON either way.
    .option("--json", "machine-readable output (the schema is JSON already)")
    .action(() => {
      const schema = z.toJSONSchema(Topology, { io: "input", unrepresentable: "any" });
      // Top-level `x-` keys (anchors to merge from) are the file's own: editors accept them.
      printJson({ ...schema, patternProperties: { "^x-": {} } });
    });
  cmd.command("validate")
    .description("Check a topology file and report every problem with its line and column")
    .argument("<file>", "topology YAML file")
    .addOption(
      new Option(
        "--variant <variant>",
        "server distribution the topology is for: runtime_config keys MongoDB does not know " +
          "are errors for mongo, warnings for percona (its binaries accept more)",
      ).choices(Variant.options).default("mongo" as const),
    )
    .option(
      "--version <version>",
      "MongoDB version the topology is for (e.g. 7.0): runtime_config options that series no " +
        "longer knows are errors (without it, every option of 6.0–8.0 passes)",
      checkedVersion,
    )
    .option("--json", "machine-readable output")
    .action(async (file, opts) => {
      const t = await loadTopology(file, { variant: opts.variant, version: opts.version });
      if (opts.json) {
        printJson({ valid: true, kind: topologyKind(t.topology), warnings: t.warnings });
        return;
      }
      print(`✓ ${file}: valid ${topologyKind(t.topology).replace("_", " ")} topology`);
      for (const w of t.warnings) print(formatIssue(w));
    });
  return cmd as unknown as Command;
}
