#!/usr/bin/env -S deno run -A --v8-flags=--max-semi-space-size=2
/**
 * mup: plan → review → apply deployments of MongoDB clusters.
 * This file only wires commands together; the work lives under lib/.
 */
import "./lib/util/zod_setup.ts";
import { Command, CommanderError, type CommandUnknownOpts } from "@commander-js/extra-typings";
import { clusterCommand } from "./lib/cli/cluster_cmd.ts";
import { makeContext, printJsonError } from "./lib/cli/context.ts";
import { planCommand } from "./lib/cli/plan_cmd.ts";
import { topologyCommand } from "./lib/cli/topology_cmd.ts";
import { stateCommand } from "./lib/cli/state_cmd.ts";
import { errorDocument, MupError } from "./lib/errors.ts";
import { MUP_VERSION } from "./lib/plan/planner.ts";
import { mupHome } from "./lib/util/path.ts";
import { closeReusedClients, reuseClients } from "./lib/mongo/client.ts";

export async function main(args: string[]): Promise<number> {
  // `deno task mup -- cluster display r3` passes its `--` through: it is deno's, not mup's.
  // Left in, commander would take it as the end of the options and every option after it
  // (`--timeout 2s`) as an argument. Only a leading one; a `--` after a command stays.
  if (args[0] === "--") args = args.slice(1);
  // The compiled binary also carries the simulator, so a mirror's tarballs can start it.
  if (args[0] === "__simulator") {
    const { simulatorMain } = await import("./sim/main.ts");
    return await simulatorMain(args.slice(1));
  }
  // Files and directories mup or the servers it starts create are the owner's alone, whatever
  // the caller's umask; mup also sets its own files' modes explicitly (lib/state/atomic.ts).
  Deno.umask(0o077);
  // One invocation asks the same servers many times (polls, a display of many processes): each
  // question need not pay for a client of its own (lib/mongo/client.ts).
  reuseClients();
  const ctx = makeContext();
  const program = new Command("mup")
    .description("Deploy and operate MongoDB clusters with a plan → review → apply workflow")
    .version(MUP_VERSION, "-V, --version", "print mup's version")
    // Options before a subcommand are mup's own, so `mup --version` prints mup's version while
    // `mup cluster deploy … --version 7.0` names the MongoDB version.
    .enablePositionalOptions()
    .exitOverride()
    .showSuggestionAfterError(true)
    // Where the state lives, which no option says (tester91).
    .addHelpText(
      "after",
      "\nEnvironment:\n" +
        "  MUP_HOME    where mup keeps clusters, plans, apply states, secrets and the download\n" +
        "              cache (default: ~/.mup; created when it does not exist)\n" +
        "  MUP_MIRROR  the download mirror `cluster deploy` and `cluster upgrade` use when\n" +
        "              --mirror is not given",
    );
  program.addCommand(clusterCommand(ctx));
  program.addCommand(planCommand(ctx));
  program.addCommand(stateCommand(ctx));
  program.addCommand(topologyCommand());
  // Commands added whole do not inherit these settings: without them a usage error would exit
  // from inside commander, before a --json error document could be printed.
  const everyCommand = (c: CommandUnknownOpts): CommandUnknownOpts[] => [
    c,
    ...c.commands.flatMap(everyCommand),
  ];
  // The command a usage error is about, for the --json error document's hint.
  let usageOf = "mup";
  for (const c of everyCommand(program)) {
    // Help wraps its descriptions at the terminal's width, or at HELP_WIDTH when piped; commander
    // wraps none narrower than 40 columns, which `cluster --help`'s wide first column left
    // (lines of 600 characters at 80 columns, tester53).
    c.configureHelp({ minWidthToWrap: 24 });
    c.exitOverride().configureOutput({
      getOutHelpWidth: () => helpWidth(Deno.stdout),
      getErrHelpWidth: () => helpWidth(Deno.stderr),
      writeErr: (s) => Deno.stderr.writeSync(new TextEncoder().encode(s)),
      // A usage error reads like every other mup error, and says where the usage is.
      outputError: (s, write) => {
        usageOf = commandPath(c);
        // Under --json the error document on stdout says it (reportError); nothing else.
        if (args.includes("--json")) return;
        write(`${s.replace(/^error: /, "Error: ")}Hint: \`${usageOf} --help\` shows its usage\n`);
      },
    });
  }
  try {
    checkHome();
    await program.parseAsync(args, { from: "user" });
    return ctx.exitCode;
  } catch (e) {
    return reportError(e, args.includes("--json"), usageOf);
  } finally {
    await closeReusedClients(); // before the SSH forwards they may run through
    await ctx.executors.close(); // SSH master connections end with mup
  }
}

/** The columns help is wrapped to when it is not printed to a terminal. */
const HELP_WIDTH = 100;

/** The terminal's width when `out` is one (and its size can be read), else HELP_WIDTH. */
function helpWidth(out: { isTerminal(): boolean }): number {
  if (!out.isTerminal()) return HELP_WIDTH;
  try {
    return Deno.consoleSize().columns || HELP_WIDTH;
  } catch {
    return HELP_WIDTH;
  }
}

/** "mup cluster deploy" for the deploy subcommand. */
function commandPath(c: CommandUnknownOpts): string {
  const names: string[] = [];
  for (let at: CommandUnknownOpts | null = c; at; at = at.parent) names.unshift(at.name());
  return names.join(" ");
}

/** $MUP_HOME must be a directory (or not exist yet): a file there would read as "no clusters". */
function checkHome(): void {
  const home = mupHome();
  const info = (() => {
    try {
      return Deno.statSync(home);
    } catch {
      return undefined;
    }
  })();
  if (info && !info.isDirectory) {
    throw new MupError(`MUP_HOME ${home} is not a directory`, {
      hint: "point MUP_HOME at a directory (mup creates it when it does not exist)",
    });
  }
}

/**
 * Prints a failure and returns the exit code. With `--json`, every failure, a usage error
 * included, is one JSON error document on stdout (see errorDocument in lib/errors.ts).
 */
function reportError(e: unknown, json: boolean, command: string): number {
  if (e instanceof CommanderError) {
    // Help and version output exit 0; usage errors were already printed by commander.
    if (
      e.exitCode === 0 || e.code === "commander.helpDisplayed" || e.code === "commander.version"
    ) return 0;
    if (json) {
      printJsonError({
        type: "error",
        error: e.message.replace(/^error: /, ""),
        hint: `\`${command} --help\` shows its usage`,
        code: e.code,
      });
    }
    return 1;
  }
  if (json) printJsonError(errorDocument(e));
  if (e instanceof MupError) {
    if (!json) {
      console.error(`Error: ${e.message}`);
      if (e.options.hint) console.error(`Hint: ${e.options.hint}`);
    }
    return e.exitCode;
  }
  const err = e as Error;
  if (!json) console.error(`Error: ${err?.message ?? String(e)}`);
  console.error(
    "This is a bug in mup; please report it with the command you ran. Set MUP_DEBUG=1 for details.",
  );
  if (Deno.env.get("MUP_DEBUG")) console.error(err?.stack);
  return 1;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
