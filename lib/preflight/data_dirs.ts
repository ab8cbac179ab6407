/**
 * Pre-flight of a first deploy's data directories: one that already holds files, none of them
 * MongoDB's, is someone else's directory. mongod would write among those files and `cluster
 * destroy` would remove the directory with them, so the plan is refused before anything starts.
 * (A directory with MongoDB data is the retained-data case: lib/preflight/retained.ts.)
 */
import type { ExecutorFactory } from "../executor/executor.ts";
import type { ProcessSpec } from "../plan/processes.ts";
import type { CheckResult, ValidationIssue } from "../plan/schema.ts";
import { hostKey, hostName, sameHostName } from "../topology/hosts.ts";
import type { NodeClaim } from "../topology/layout.ts";
import { holdsData } from "./recorded_data.ts";
import { lockHolder } from "../ops/process.ts";
import { listDirs } from "./list_dirs.ts";
import * as path from "node:path";
import { firstFew } from "../util/format.ts";

/**
 * A check named `name` from the errors found (sorted by message): failed, saying
 * `say.failed(n)`, when there are any; passed, saying `say.passed`, when there are none.
 */
function checkFrom(
  name: string,
  found: ValidationIssue[],
  t0: number,
  say: { failed: (n: number) => string; passed: string },
  unchecked: string[] = [],
): { check: CheckResult; issues: ValidationIssue[] } {
  const issues = found.sort((a, b) => a.message.localeCompare(b.message));
  // What could not be asked was not checked: never reported as passed.
  const hosts = [...new Set(unchecked)].sort();
  const not = hosts.length ? ` (not checked on ${hosts.join(", ")}: not reached)` : "";
  return {
    check: {
      name,
      status: issues.length ? "failed" : hosts.length ? "warning" : "passed",
      message: `${issues.length ? say.failed(issues.length) : say.passed}${not}`,
      duration: Math.round(performance.now() - t0),
    },
    issues,
  };
}

/** A host that could not be asked (perDataDir counts its directories as not checked). */
class NotReached extends Error {}

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
  const unchecked: string[] = [];
  const found = await Promise.all(
    procs.filter((p) => p.role !== "mongos").map(async (p) => {
      const message = await problem(p).catch((e) => {
        if (e instanceof NotReached) unchecked.push(p.host);
        return undefined;
      });
      return message ? { host: p.host, message } : undefined;
    }),
  );
  return checkFrom(
    name,
    found.filter((x) => x !== undefined)
      .map((x): ValidationIssue => ({ code, severity: "error", ...x })),
    t0,
    say,
    unchecked,
  );
}

/**
 * The check, and an error for each data directory (mongod and config servers) that exists, is
 * not empty and holds no MongoDB data. Unreachable hosts are left to the connectivity check.
 */
export function checkForeignData(
  procs: ProcessSpec[],
  executors: ExecutorFactory,
): Promise<{ check: CheckResult; issues: ValidationIssue[] }> {
  // Each host's data directories listed in one command (over SSH, one round trip). By the host
  // as reached, not the machine: two SSH hosts that are one machine (loopback addresses) are
  // reached, and lost, each on its own (tester101 #2).
  const listings = new Map<string, Promise<Map<string, string[] | undefined> | undefined>>();
  const listingOf = (p: ProcessSpec) => {
    const key = hostName(p.host);
    if (!listings.has(key)) {
      const dirs = procs.filter((q) => q.role !== "mongos" && sameHostName(q.host, p.host))
        .map((q) => q.dirs.data);
      listings.set(key, listDirs(executors.forHost(p.host), dirs).catch(() => undefined));
    }
    return listings.get(key)!;
  };
  return perDataDir(procs, "data_dirs_empty", "data_dir_not_empty", async (p) => {
    const dir = p.dirs.data;
    const listing = await listingOf(p);
    if (!listing) throw new NotReached(p.host);
    const entries = listing.get(dir);
    if (!entries?.length || holdsData(entries)) return undefined;
    // A live mongod on it: this process's own server still starting (an apply stopped at once
    // left it coming up, its files not all written yet), or another's, which data_dirs_free
    // refuses by name.
    if (
      entries.includes("mongod.lock") &&
      await lockHolder(executors.forHost(p.host), dir).catch(() => undefined)
    ) return undefined;
    const named = firstFew(entries);
    return `data directory ${p.host}:${dir} of ${p.id} already holds files that are not ` +
      `MongoDB data (${named}): mongod would write among them and \`cluster destroy\` would ` +
      "remove them with it. Give the process an empty or new data_dir, or move the files away";
  }, {
    failed: (n) => `${n} data director${n === 1 ? "y holds" : "ies hold"} other files`,
    passed: "every data directory is new, empty or holds MongoDB data",
  });
}

/**
 * Pre-flight of a first deploy's own-named directories: the deploy, log and config directories
 * an entry names itself (`deploy_dir`, `log_dir`, `config_dir`; NodeDirs.chosen) must be new or
 * empty. mongod would write among someone else's files there, and destroy would leave the
 * directory half-emptied. The only files allowed are the ones this cluster's own earlier,
 * unfinished deploy made (`ownClaims`: its mongod.log, and logRotate's renamed copies of it,
 * mongod.conf, mongod.pid), so that deploy can be retried, and the way to this cluster's own
 * directories (a data_dir inside the entry's log_dir: retained data, or an unfinished deploy's);
 * a chosen directory that is a data directory too is left to the data checks. An error per
 * directory, naming up to
 * three of its entries; unreachable hosts are left to the connectivity check.
 */
export async function checkChosenDirs(
  procs: ProcessSpec[],
  executors: ExecutorFactory,
  ownClaims: NodeClaim[],
): Promise<{ check: CheckResult; issues: ValidationIssue[] }> {
  const t0 = performance.now();
  const own = new Set(
    ownClaims.flatMap((c) =>
      [c.files.log, c.files.config, c.files.pid].map((f) => `${hostKey(c.host)} ${f}`)
    ),
  );
  // Its own file, or a rotated copy of its own log (`mongod.log.<timestamp>`).
  const mine = (host: string, dir: string, name: string) => {
    const rotatedOf = /^((mongod|mongos)\.log)\./.exec(name)?.[1];
    return own.has(`${hostKey(host)} ${path.join(dir, name)}`) ||
      (rotatedOf !== undefined && own.has(`${hostKey(host)} ${path.join(dir, rotatedOf)}`));
  };
  // The cluster's own directories on each host: one inside a chosen directory (a data_dir
  // under the entry's log_dir, say) is this cluster's, not someone else's files.
  const ownDirs = new Map<string, string[]>();
  for (const p of procs) {
    const list = ownDirs.get(hostKey(p.host)) ?? [];
    list.push(p.dirs.deploy, p.dirs.log, p.dirs.config);
    if (p.role !== "mongos") list.push(p.dirs.data);
    ownDirs.set(hostKey(p.host), list);
  }
  const leadsToOwn = (host: string, dir: string, name: string) => {
    const entry = path.join(dir, name);
    return (ownDirs.get(hostKey(host)) ?? []).some((d) =>
      d === entry || d.startsWith(entry + path.sep)
    );
  };
  // A chosen directory that is also a data directory is the data check's (checkForeignData,
  // and the retained-data pre-flight): MongoDB's files in it are data, not someone else's.
  const dataDirs = new Set(
    procs.filter((p) => p.role !== "mongos").map((p) => `${hostKey(p.host)} ${p.dirs.data}`),
  );
  const seen = new Set<string>(dataDirs);
  const dirs: { p: ProcessSpec; field: string; dir: string }[] = [];
  for (const p of procs) {
    for (const which of p.dirs.chosen) {
      const dir = p.dirs[which];
      if (seen.has(`${hostKey(p.host)} ${dir}`)) continue;
      seen.add(`${hostKey(p.host)} ${dir}`);
      dirs.push({ p, field: `${which}_dir`, dir });
    }
  }
  // One listing per host: over SSH, one round trip however many directories it has.
  const hosts = [...new Set(dirs.map((d) => d.p.host))];
  const listed = new Map(
    await Promise.all(hosts.map(async (h) =>
      [
        h,
        await listDirs(
          executors.forHost(h),
          dirs.filter((d) => d.p.host === h).map((d) => d.dir),
        ).catch(() => undefined), // unreachable: connectivity's check
      ] as const
    )),
  );
  const unchecked = hosts.filter((h) => !listed.get(h));
  const found = dirs.map(({ p, field, dir }) => {
    const all = listed.get(p.host)?.get(dir);
    if (!all) return undefined; // absent
    const entries = all.filter((e) => !mine(p.host, dir, e) && !leadsToOwn(p.host, dir, e));
    if (!entries.length) return undefined;
    const named = firstFew(entries);
    return {
      host: p.host,
      message: `${field.replace("_dir", " directory")} ${p.host}:${dir} of ${p.id} already ` +
        `holds files mup did not make (${named}): the process would write among them. Give ` +
        `the process an empty or new ${field}, or move the files away`,
    };
  });
  return checkFrom(
    "own_dirs_empty",
    found.filter((x) => x !== undefined)
      .map((x): ValidationIssue => ({ code: "dir_not_empty", severity: "error", ...x })),
    t0,
    {
      failed: (n) =>
        `${n} deploy, log or config director${n === 1 ? "y holds" : "ies hold"} other files`,
      passed: "every deploy, log and config directory a server names is new or empty",
    },
    unchecked,
  );
}

/**
 * For each path given after the script: the nearest part of it that exists must be a directory
 * this user may write in (and enter), or mkdir -p (and mongod) fails there. Prints `user <name>`,
 * then `<index> notdir <path>` or `<index> unwritable <path>` for each that cannot be created.
 * Paths arrive as arguments ("$@"), never inside the script. The parent is cut off in the shell
 * itself (what `dirname` prints, a trailing slash aside), not by a `dirname` process per level.
 */
const CREATABLE_SCRIPT = `u=$(id -un 2>/dev/null || echo unknown)
echo "user $u"
i=0
for d in "$@"; do
  p=$d
  while [ ! -e "$p" ] && [ ! -L "$p" ]; do
    case $p in */*) q=\${p%/*}; [ -n "$q" ] || q=/ ;; *) q=. ;; esac
    [ "$q" = "$p" ] && break
    p=$q
  done
  if [ ! -d "$p" ]; then echo "$i notdir $p"
  elif [ ! -w "$p" ] || [ ! -x "$p" ]; then echo "$i unwritable $p"
  fi
  i=$((i+1))
done`;

/**
 * Pre-flight of every directory a deploy creates or writes in (each process's deploy, data, log
 * and config directory): it exists and is writable, or it can be made, i.e. its nearest existing
 * ancestor is a directory the login user may write in. A file in the way or a read-only (or
 * someone else's) directory makes the apply fail mid-way at create_directory or at mongod's
 * start; this refuses it first, naming the host, the directory, what is in the way and the fix.
 * One command per host (local or over SSH); an unreachable host is left to the connectivity check.
 */
export async function checkDirsCreatable(
  procs: ProcessSpec[],
  executors: ExecutorFactory,
): Promise<{ check: CheckResult; issues: ValidationIssue[] }> {
  const t0 = performance.now();
  const byHost = new Map<string, { dir: string; field: string; proc: ProcessSpec }[]>();
  for (const p of procs) {
    const list = byHost.get(p.host) ?? [];
    const dirs = [
      { dir: p.dirs.deploy, field: "deploy_dir" },
      ...(p.role === "mongos" ? [] : [{ dir: p.dirs.data, field: "data_dir" }]),
      { dir: p.dirs.log, field: "log_dir" },
      { dir: p.dirs.config, field: "config_dir" },
    ];
    for (const d of dirs) {
      if (!list.some((x) => x.dir === d.dir)) list.push({ ...d, proc: p });
    }
    byHost.set(p.host, list);
  }
  const unchecked: string[] = [];
  const found = await Promise.all([...byHost].map(async ([host, list]) => {
    const r = await executors.forHost(host).run(
      ["sh", "-c", CREATABLE_SCRIPT, "sh", ...list.map((x) => x.dir)],
      { timeoutMs: 10_000 },
    ).catch(() => undefined);
    if (!r || r.code !== 0) {
      unchecked.push(host);
      return [];
    }
    const lines = r.stdout.split("\n");
    const user = lines.find((l) => l.startsWith("user "))?.slice(5) ?? "the login user";
    return lines.flatMap((l): ValidationIssue[] => {
      const m = /^(\d+) (notdir|unwritable) (.*)$/.exec(l);
      const x = m ? list[Number(m[1])] : undefined;
      if (!m || !x) return [];
      const why = m[2] === "notdir"
        ? `${m[3]} is in the way: it exists and is not a directory`
        : `${m[3]} is not writable by ${user} (read-only, or another user's)`;
      const fix = m[2] === "notdir" ? `move ${m[3]} away` : `make ${m[3]} writable for ${user}`;
      return [{
        code: "dir_not_creatable",
        severity: "error",
        host,
        message: `${x.field.replace("_dir", " directory")} ${host}:${x.dir} of ${x.proc.id} ` +
          `cannot be ${m[3] === x.dir ? "written" : "created"}: ${why}. ` +
          `${fix[0].toUpperCase()}${fix.slice(1)}, or give the process another ${x.field}`,
      }];
    });
  }));
  return checkFrom("dirs_creatable", found.flat(), t0, {
    failed: (n) => `${n} director${n === 1 ? "y" : "ies"} cannot be created or written`,
    passed: "every deploy, data, log and config directory can be created or written",
  }, unchecked);
}
