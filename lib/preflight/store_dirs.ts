/**
 * Directories of a topology on this machine that lie inside mup's own: its store
 * (`$MUP_HOME/storage`: every cluster's records, secrets and default deploy roots) and its
 * download cache. A cluster's files there would be taken for mup's or another cluster's (a
 * deploy root in another cluster's store directory overwrote that cluster's keyfile, and its
 * destroy removed it). The cluster's own default deploy root is the one place allowed.
 */
import * as path from "node:path";
import type { ProcessSpec } from "../plan/processes.ts";
import type { ValidationIssue } from "../plan/schema.ts";
import { isLocalMachine } from "../topology/hosts.ts";

/** Where mup keeps its own files, and the cluster's own default deploy root there. */
export interface MupDirs {
  /** `$MUP_HOME/storage`. */
  storageRoot: string;
  /** The download cache. */
  cacheDir: string;
  /** `<storage>/clusters/<name>/deploy`: the cluster's default deploy root. */
  ownDeployDir: string;
}

function inside(dir: string, parent: string): boolean {
  const r = path.relative(parent, dir);
  return r === "" || (!r.startsWith("..") && !path.isAbsolute(r));
}

/**
 * An error for each directory on this machine (the deploy root `root`, each process's deploy,
 * data, log and config directory) inside `mup`'s store or cache, outside `mup.ownDeployDir`.
 * Pure.
 */
export function storeDirIssues(
  procs: ProcessSpec[],
  root: string,
  mup: MupDirs,
): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  const seen = new Set<string>();
  const check = (host: string, what: string, dir: string) => {
    if (!isLocalMachine(host)) return;
    const d = path.resolve(dir);
    if (seen.has(d) || inside(d, mup.ownDeployDir)) return;
    const where = inside(d, mup.cacheDir)
      ? `mup's download cache ${mup.cacheDir}`
      : inside(d, mup.storageRoot)
      ? `mup's store ${mup.storageRoot} (every cluster's records, secrets and default deploy roots)`
      : undefined;
    if (!where) return;
    seen.add(d);
    out.push({
      code: "dir_in_store",
      severity: "error",
      host,
      message: `${what} ${d} is inside ${where}: a cluster's files there would be taken for ` +
        "mup's own or another cluster's. Give the cluster a directory outside it, or leave " +
        `global.deploy_dir out for its own (${mup.ownDeployDir})`,
    });
  };
  const local = procs.find((p) => isLocalMachine(p.host));
  if (local) check(local.host, "deploy_dir", root);
  for (const p of procs) {
    check(p.host, `the deploy directory of ${p.id}`, p.dirs.deploy);
    if (p.role !== "mongos") check(p.host, `the data directory of ${p.id}`, p.dirs.data);
    check(p.host, `the log directory of ${p.id}`, p.dirs.log);
    check(p.host, `the config directory of ${p.id}`, p.dirs.config);
  }
  return out;
}
