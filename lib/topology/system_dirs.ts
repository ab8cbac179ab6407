/**
 * Directories a topology entry must not hand to mup: the root and the system's own directories.
 * An entry's own `data_dir` (and the other directory fields) is used as it is, and `cluster
 * destroy` removes it; `data_dir: /tmp` or `/` would hand it everything else in there too. So
 * is the global `deploy_dir`, the deploy root. (A global data, log or config directory is only a
 * parent: each process gets its own `<role>-<port>` directory in it.)
 */
import * as path from "node:path";
import type { Topology } from "./schema.ts";
import type { TopologyIssue } from "./validate.ts";

const SYSTEM_DIRS = new Set([
  "/",
  "/bin",
  "/boot",
  "/dev",
  "/etc",
  "/home",
  "/lib",
  "/lib32",
  "/lib64",
  "/media",
  "/mnt",
  "/opt",
  "/proc",
  "/root",
  "/run",
  "/sbin",
  "/srv",
  "/sys",
  "/tmp",
  "/usr",
  "/usr/local",
  "/var",
  "/var/lib",
  "/var/log",
  "/var/tmp",
]);

const FIELDS = ["deploy_dir", "data_dir", "log_dir", "config_dir"] as const;

/** Whether absolute `dir` is `/` or one of the system's own directories (`/tmp`, `/var/lib`…). */
export function isSystemDir(dir: string): boolean {
  return SYSTEM_DIRS.has(path.posix.normalize(dir).replace(/(.)\/+$/, "$1"));
}

/** An error for each directory field of an entry that names a system directory. */
export function systemDirIssues(t: Topology): Omit<TopologyIssue, "location">[] {
  const issues: Omit<TopologyIssue, "location">[] = [];
  const check = (
    dirs: Partial<Record<(typeof FIELDS)[number], string>>,
    at: (string | number)[],
  ) => {
    for (const f of FIELDS) {
      const d = dirs[f];
      if (d === undefined) continue;
      if (!path.isAbsolute(d)) {
        // A relative directory lies inside its deploy_dir: `..` would leave it, anywhere (a
        // system directory too), past every check made of absolute paths.
        if (d.split("/").includes("..")) {
          issues.push({
            severity: "error",
            code: "relative_dir_escapes",
            path: [...at, f],
            message: `${f} ${d} leaves the deploy_dir it is relative to (\`..\`)`,
            hint: `give an absolute path, or one inside the deploy_dir without \`..\``,
          });
        }
        continue;
      }
      if (d.split("/").includes("..")) {
        // `/a/e/../d` names /a/d only where /a/e exists: mup (normalising) and mongod (asking the
        // kernel) would not agree on the directory, nor would the shared-directory checks.
        issues.push({
          severity: "error",
          code: "dir_dotdot",
          path: [...at, f],
          message: `${f} ${d} has a \`..\` in it`,
          hint: `write the directory without it, e.g. ${path.posix.normalize(d)}`,
        });
        continue;
      }
      if (!isSystemDir(d)) continue;
      issues.push({
        severity: "error",
        code: "system_dir",
        path: [...at, f],
        message: `${f} ${d} is a system directory: mup would make its files among the system's, ` +
          "and destroy or rollback would remove what it was given",
        hint: `use a directory of the cluster's own, e.g. ${path.posix.join(d, "mongodb")}`,
      });
    }
  };
  for (const section of ["config_servers", "mongod_servers", "mongos_servers"] as const) {
    t[section].forEach((n, i) => check(n, [section, i]));
  }
  // Global data, log and config directories are parents (each process gets its own
  // `<role>-<port>` directory in them), so only `..`. The global deploy_dir is the deploy root
  // itself: bin/ and every process's directory go straight into it, and destroy removes it
  // once empty, so it is held to an entry's rule.
  const global = t.global as Partial<Record<(typeof FIELDS)[number], string>>;
  const root = global.deploy_dir;
  if (root !== undefined && !path.isAbsolute(root)) {
    // Relative to what? mup's working directory differs from run to run (a destroy from
    // elsewhere would remove another directory's files), and `~` and `$HOME` are no shell's.
    issues.push({
      severity: "error",
      code: "relative_deploy_root",
      path: ["global", "deploy_dir"],
      message: `deploy_dir ${JSON.stringify(root)} is not an absolute path: the deploy root ` +
        "must not depend on the directory mup runs from (`~` and `$HOME` are not expanded)",
      hint: "give an absolute path, e.g. /data/mongodb, or leave deploy_dir out for mup's own " +
        "(in $MUP_HOME)",
    });
  } else if (root !== undefined && isSystemDir(root)) {
    issues.push({
      severity: "error",
      code: "system_dir",
      path: ["global", "deploy_dir"],
      message: `deploy_dir ${root} is a system directory: it is the deploy root, where mup puts ` +
        "bin/ and each process's directory among the system's, and destroy removes it once empty",
      hint: `use a directory of the cluster's own, e.g. ${path.posix.join(root, "mongodb")}`,
    });
  }
  for (const f of ["data_dir", "log_dir", "config_dir"] as const) {
    // A parent, but the root: each process's directory would sit at the top of the filesystem.
    const d = global[f];
    if (d === undefined || path.posix.normalize(d) !== "/") continue;
    issues.push({
      severity: "warning",
      code: "root_parent_dir",
      path: ["global", f],
      message: `${f} / puts each process's directory at the top of the filesystem ` +
        `(/mongod-<port>, /mongos-<port>)`,
      hint: `give a directory of the cluster's own, e.g. /${
        f === "log_dir" ? "var/log" : f === "data_dir" ? "data" : "etc"
      }/mongodb`,
    });
  }
  for (const f of FIELDS) {
    const d = global[f];
    if (d === undefined || path.isAbsolute(d) || !d.split("/").includes("..")) continue;
    issues.push({
      severity: "error",
      code: "relative_dir_escapes",
      path: ["global", f],
      message: `${f} ${d} leaves the deploy_dir it is relative to (\`..\`)`,
      hint: `give an absolute path, or one inside the deploy_dir without \`..\``,
    });
  }
  return issues;
}
