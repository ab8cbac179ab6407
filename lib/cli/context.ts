import type { ErrorDocument } from "../errors.ts";
import { DefaultExecutors } from "../executor/factory.ts";
import { PlanStore } from "../plan/store.ts";
import { cacheRoot, storageRoot } from "../util/path.ts";

/** What every command needs, built once and passed explicitly. */
export interface CliContext {
  store: PlanStore;
  executors: DefaultExecutors;
  cacheDir: string;
  /** Exit code the command wants, when it is not 0. */
  exitCode: number;
}

export function makeContext(): CliContext {
  return {
    store: new PlanStore(storageRoot()),
    executors: new DefaultExecutors(),
    cacheDir: cacheRoot(),
    exitCode: 0,
  };
}

export function print(text: string): void {
  console.log(text);
}

export function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}

/**
 * Prints a `--json` outcome on one line: what a command that streams NDJSON events (deploy and
 * the other plan-and-apply commands, plan apply, plan resume) prints when it has nothing to
 * stream, so that a script reading the last line gets the whole document.
 */
export function printJsonLine(value: unknown): void {
  console.log(JSON.stringify(value));
}

/**
 * Prints a `--json` error document as one line on stdout (the last line of an NDJSON stream).
 * Commands that fail without throwing use this; thrown MupErrors reach it through main.ts.
 */
export function printJsonError(doc: ErrorDocument): void {
  console.log(JSON.stringify(doc));
}
