/** The simulator's `--help`, from MongoDB's option table (lib/mongo/server_options.ts). */
import { OPTIONS } from "../lib/mongo/server_options.ts";

/** `--help` text: every option of this binary, grouped as the table is. */
export function helpText(role: "mongod" | "mongos"): string {
  const lines = ["Options:"];
  for (const o of OPTIONS) {
    if ((o.roles && !o.roles.includes(role)) || !o.cli) continue;
    const names = o.cli.map((c) => (c.length === 1 ? `-${c}` : `--${c}`)).join(" [ ") +
      (o.cli.length > 1 ? " ]" : "");
    lines.push(`  ${names}${o.type === "switch" ? "" : " arg"}`);
  }
  return lines.join("\n");
}
