import type { Command } from "@commander-js/extra-typings";
import type { Plan } from "../plan/schema.ts";
import type { CliContext } from "./context.ts";
import { MupError } from "../errors.ts";

export interface ApplyCliOptions {
  autoApprove?: boolean;
  parallelism?: string;
  onFailure?: "abort" | "pause";
  json?: boolean;
}

export function applyCommandOptions(cmd: Command<any, any>): void {
  cmd.option("--auto-approve", "skip the interactive confirmation")
    .option("--parallelism <n>", "most operations running at once", "10")
    .option(
      "--on-failure <policy>",
      "without a terminal or with --auto-approve: abort or pause when a safety check fails",
      "abort",
    );
}

export function runApply(
  _ctx: CliContext,
  _plan: Plan,
  _path: string,
  _opts: ApplyCliOptions,
): Promise<number> {
  throw new MupError(
    "applying plans is not available yet: use --plan-only, --dry-run or --plan-file",
    { exitCode: 1 },
  );
}
