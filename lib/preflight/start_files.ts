/**
 * Pre-flight of the processes a plan starts: the files each start needs (lib/plan/start_files.ts)
 * are on its host. A restart would otherwise stop a process that then cannot start ("error
 * getting file …/secrets/keyfile"), and leave it down; the plan is refused before it is approved.
 */
import type { Executor, ExecutorFactory } from "../executor/executor.ts";
import type { CheckResult, ValidationIssue } from "../plan/schema.ts";
import { missingMessage, type StartFile } from "../plan/start_files.ts";
import { hostKey } from "../topology/hosts.ts";

/**
 * Which of `paths` do not exist on the executor's host, by index, asked with one `sh` (argv, no
 * quoting). Undefined when the host cannot be asked (its own checks meet it later).
 */
export async function missingPaths(
  ex: Executor,
  paths: string[],
): Promise<Set<number> | undefined> {
  const r = await ex.run(
    ["sh", "-c", 'i=0; for f in "$@"; do [ -e "$f" ] || echo "$i"; i=$((i+1)); done', "sh"]
      .concat(paths),
    { timeoutMs: 10_000 },
  ).catch(() => undefined);
  if (!r || r.code !== 0) return undefined;
  return new Set(r.stdout.split("\n").filter(Boolean).map(Number));
}

/**
 * The check `start_files_present`, and an error per file of `files` missing on its host (naming
 * host, path, process and `repair`, the command that installs it again). A host that cannot be
 * asked finds nothing missing: the connectivity and the start's own checks meet it.
 */
export async function checkStartFiles(
  files: StartFile[],
  executors: ExecutorFactory,
  repair: string,
): Promise<{ check: CheckResult; issues: ValidationIssue[] }> {
  const t0 = performance.now();
  const byHost = new Map<string, StartFile[]>();
  for (const f of files) byHost.set(hostKey(f.host), [...(byHost.get(hostKey(f.host)) ?? []), f]);
  const found = await Promise.all([...byHost.values()].map(async (list) => {
    const missing = await missingPaths(executors.forHost(list[0].host), list.map((f) => f.path));
    return list.filter((_, i) => missing?.has(i));
  }));
  const issues = found.flat().map((f): ValidationIssue => ({
    code: "start_file_missing",
    severity: "error",
    host: f.host,
    message: missingMessage(f, repair),
  })).sort((a, b) => a.message.localeCompare(b.message));
  return {
    check: {
      name: "start_files_present",
      status: issues.length ? "failed" : "passed",
      message: issues.length
        ? `${issues.length} file(s) a start needs are missing`
        : "the files every start needs are in place",
      duration: Math.round(performance.now() - t0),
    },
    issues,
  };
}
