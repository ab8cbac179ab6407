/**
 * Pre-flight of a first deploy's data directories: one that already holds files, none of them
 * MongoDB's, is someone else's directory. mongod would write among those files and `cluster
 * destroy` would remove the directory with them, so the plan is refused before anything starts.
 * (A directory with MongoDB data is the retained-data case: lib/preflight/retained.ts.)
 */
import type { ExecutorFactory } from "../executor/executor.ts";
import type { ProcessSpec } from "../plan/processes.ts";
import type { CheckResult, ValidationIssue } from "../plan/schema.ts";
import { DATA_MARKERS } from "./retained.ts";

/** How many of a directory's entries the message names. */
const SHOWN = 3;

/**
 * Runs `problem` on each data directory (mongod and config servers) at once: check `name`
 * fails when any says something (its errors, of code `code`, sorted); `say` words its message.
 * A host that cannot be reached is left to the connectivity check.
 */
async function perDataDir(
  procs: ProcessSpec[],
  name: string,
  code: string,
  problem: (p: ProcessSpec) => Promise<string | undefined>,
  say: { failed: (n: number) => string; passed: string },
): Promise<{ check: CheckResult; issues: ValidationIssue[] }> {
  const t0 = performance.now();
  const found = await Promise.all(
    procs.filter((p) => p.role !== "mongos").map(async (p) => {
      const message = await problem(p).catch(() => undefined);
      return message ? { host: p.host, message } : undefined;
    }),
  );
  const issues = found.filter((x) => x !== undefined)
    .map((x): ValidationIssue => ({ code, severity: "error", ...x }))
    .sort((a, b) => a.message.localeCompare(b.message));
  return {
    check: {
      name,
      status: issues.length ? "failed" : "passed",
      message: issues.length ? say.failed(issues.length) : say.passed,
      duration: Math.round(performance.now() - t0),
    },
    issues,
  };
}

/**
 * The check, and an error for each data directory (mongod and config servers) that exists, is
 * not empty and holds no MongoDB data. Unreachable hosts are left to the connectivity check.
 */
export function checkForeignData(
  procs: ProcessSpec[],
  executors: ExecutorFactory,
): Promise<{ check: CheckResult; issues: ValidationIssue[] }> {
  return perDataDir(procs, "data_dirs_empty", "data_dir_not_empty", async (p) => {
    const dir = p.dirs.data;
    const ex = executors.forHost(p.host);
    if (!(await ex.exists(dir))) return undefined;
    const r = await ex.run(["ls", "-A", "--", dir], { timeoutMs: 10_000 });
    if (r.code !== 0) return undefined;
    const entries = r.stdout.split("\n").filter(Boolean);
    if (!entries.length || entries.some((e) => DATA_MARKERS.includes(e))) return undefined;
    const named = entries.slice(0, SHOWN).join(", ") +
      (entries.length > SHOWN ? ` and ${entries.length - SHOWN} more` : "");
    return `data directory ${p.host}:${dir} of ${p.id} already holds files that are not ` +
      `MongoDB data (${named}): mongod would write among them and \`cluster destroy\` would ` +
      "remove them with it. Give the process an empty or new data_dir, or move the files away";
  }, {
    failed: (n) => `${n} data director${n === 1 ? "y holds" : "ies hold"} other files`,
    passed: "every data directory is new, empty or holds MongoDB data",
  });
}

/**
 * Pre-flight of a repair (`cluster deploy` of a deployed cluster): every recorded data directory
 * (mongod and config servers) must still exist. Started on a missing one, mongod begins empty:
 * a standalone or a whole replica set would come back without its data (and with a new admin
 * user), while the plan could only say "start". An error per missing directory; unreachable
 * hosts are left to the connectivity check. An empty directory the operator made passes: that is
 * how a replica-set member is meant to copy its data from the set again (initial sync).
 */
export function checkRecordedData(
  procs: ProcessSpec[],
  executors: ExecutorFactory,
  cluster: string,
): Promise<{ check: CheckResult; issues: ValidationIssue[] }> {
  return perDataDir(procs, "data_dirs_present", "data_dir_missing", async (p) => {
    if (await executors.forHost(p.host).exists(p.dirs.data)) return undefined;
    return `data directory ${p.host}:${p.dirs.data} of ${p.id} is missing: started again, ` +
      "it would begin with no data (a standalone or a whole replica set loses its data, and " +
      "a new admin user would be made). Restore the directory (from a backup or snapshot); " +
      "for a replica-set member meant to copy its data from the set again (initial sync), " +
      "create it empty, owned by the user mongod runs as, and plan again; or destroy the " +
      `cluster (\`mup cluster destroy ${cluster}\`) and deploy it afresh`;
  }, {
    failed: (n) => `${n} recorded data director${n === 1 ? "y is" : "ies are"} missing`,
    passed: "every recorded data directory is in place",
  });
}
