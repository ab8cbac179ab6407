import type { Command } from "@commander-js/extra-typings";
import * as path from "node:path";
import { stringify } from "yaml";
import { type CliContext, print, printJson } from "./context.ts";
import { requireMeta } from "./cluster_show.ts";

/**
 * Adds `cluster show-config <name>`: the topology as mup recorded it (with the TLS mode and
 * ports as they are now), as a topology file a repair takes, or as JSON.
 */
export function addShowConfig(cmd: Command, ctx: CliContext): void {
  cmd.command("show-config")
    .description(
      "Print the topology as mup recorded it (YAML, as a topology file; TLS and ports as they " +
        "are now): the file a repair (`cluster deploy` again) takes",
    )
    .argument("<name>", "cluster name")
    .option("--json", "the recorded topology as JSON")
    .action(async (name, opts) => {
      const meta = await requireMeta(ctx, name);
      if (opts.json) return printJson(meta.topology);
      // Empty lists are left out (a missing one is empty): an entry appended at the end of the
      // file then lands in the last list, not after a `mongos_servers: []`.
      const t = Object.fromEntries(
        Object.entries(meta.topology).filter(([, v]) => !(Array.isArray(v) && v.length === 0)),
      );
      // Hooks run in their topology file's directory: saved elsewhere, this file moves them.
      const hooksAt = meta.topology_file && Object.keys(meta.topology.hooks ?? {}).length
        ? `\n# its hooks run in ${
          path.dirname(meta.topology_file)
        } (its topology file's directory); from a file saved elsewhere they run in that ` +
          "file's directory"
        : "";
      // A TLS switch under way: security.tls is what was recorded before it (tester74).
      const sw = meta.tls_switch;
      const switching = sw
        ? `\n# a TLS ${sw.action} is under way (apply ${sw.state_id}): members' configurations ` +
          `are between TLS modes; security.tls says TLS ${
            sw.action === "enable" ? "off" : "on"
          } until \`mup plan resume ${name}\` finishes it`
        : "";
      print(
        `# cluster ${name}: ${meta.kind}, ${meta.variant} ${meta.version} (deploy with ` +
          `--version ${meta.version})${hooksAt}${switching}\n${stringify(t).trimEnd()}`,
      );
    });
}
