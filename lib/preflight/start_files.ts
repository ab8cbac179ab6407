/**
 * Pre-flight of the processes a plan starts: the files each start needs (lib/plan/start_files.ts)
 * are on its host. A restart would otherwise stop a process that then cannot start ("error
 * getting file …/secrets/keyfile"), and leave it down; the plan is refused before it is approved.
 */
import type { Executor, ExecutorFactory } from "../executor/executor.ts";
import type { CheckResult, ValidationIssue } from "../plan/schema.ts";
import {
  changedMessage,
  configChangedMessage,
  missingMessage,
  type StartFile,
  type WrittenByUnfinished,
  writtenByUnfinishedMessage,
} from "../plan/start_files.ts";
import { firstDifference } from "../plan/plan_configs.ts";
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
 * Which of `files` that carry a recorded sha256 (binaries) have another one on the executor's
 * host now: index → the sha256 found. Each distinct path is hashed once, on its host. A file
 * that is missing (or a host that cannot be asked) is not "changed": missingPaths reports it.
 */
export async function changedFiles(
  ex: Executor,
  files: { path: string; sha256?: string }[],
): Promise<Map<number, string>> {
  const paths = [...new Set(files.filter((f) => f.sha256).map((f) => f.path))];
  const found = new Map(
    await Promise.all(
      paths.map(async (p) => [p, await ex.sha256(p).catch(() => undefined)] as const),
    ),
  );
  const out = new Map<number, string>();
  files.forEach((f, i) => {
    const actual = found.get(f.path);
    if (f.sha256 && actual && actual !== f.sha256) out.set(i, actual);
  });
  return out;
}

/**
 * The check `start_files_present`, and an error per file of `files` missing on its host, or (a
 * binary) with another sha256 than the deploy recorded, or (a configuration file) with other
 * content than mup generates for it (naming the first differing line), naming host, path,
 * process and `repair`, the command that installs it again; a configuration that `writtenBy`
 * (an unfinished reconfigure) wrote names the command that finishes it. A host that cannot be
 * asked finds nothing missing: the connectivity and the start's own checks meet it.
 */
export async function checkStartFiles(
  files: StartFile[],
  executors: ExecutorFactory,
  repair: string,
  writtenBy?: WrittenByUnfinished,
): Promise<{ check: CheckResult; issues: ValidationIssue[] }> {
  const t0 = performance.now();
  const byHost = new Map<string, StartFile[]>();
  for (const f of files) byHost.set(hostKey(f.host), [...(byHost.get(hostKey(f.host)) ?? []), f]);
  const found = await Promise.all([...byHost.values()].map(async (list) => {
    const ex = executors.forHost(list[0].host);
    const missing = await missingPaths(ex, list.map((f) => f.path));
    // Binaries by their sha256 (hashed on the host); configurations read, to name the line.
    const changed = await changedFiles(
      ex,
      list.map((f) => f.content === undefined ? f : { path: f.path }),
    );
    const configs = await Promise.all(
      list.map((f, i) =>
        f.content === undefined || missing?.has(i)
          ? undefined
          : ex.readFile(f.path).then((d) => d && new TextDecoder().decode(d), () => undefined)
      ),
    );
    return list.flatMap((f, i): ValidationIssue[] => {
      if (missing?.has(i)) {
        return [{
          code: "start_file_missing",
          severity: "error",
          host: f.host,
          message: missingMessage(f, repair),
        }];
      }
      const text = configs[i];
      if (f.content !== undefined && text !== undefined && text !== f.content) {
        return [{
          code: "start_file_changed",
          severity: "error",
          host: f.host,
          message: writtenBy?.contents.get(f.process) === text
            ? writtenByUnfinishedMessage(f, writtenBy)
            : configChangedMessage(f, repair, firstDifference(text, f.content)),
        }];
      }
      const actual = changed.get(i);
      return actual
        ? [{
          code: "start_file_changed",
          severity: "error",
          host: f.host,
          message: changedMessage(f, actual, repair),
        }]
        : [];
    });
  }));
  const issues = found.flat().sort((a, b) => a.message.localeCompare(b.message));
  return {
    check: {
      name: "start_files_present",
      status: issues.length ? "failed" : "passed",
      message: issues.length
        ? `${issues.length} file(s) a start needs are missing or not the ones mup installed`
        : "the files every start needs are in place",
      duration: Math.round(performance.now() - t0),
    },
    issues,
  };
}
