/**
 * The names of a destroyed cluster's archive folders (`<storage>/archive/<name>-<plan-id>`),
 * made by `cluster destroy` and read by `cluster list` and the retained-data pre-flight.
 */
import * as path from "node:path";

/** Where a destroyed cluster's records go: `<storage>/archive/<name>-<plan-id>`. */
export function archiveDir(clusterDir: string, name: string, planId: string): string {
  return path.join(path.dirname(path.dirname(clusterDir)), "archive", `${name}-${planId}`);
}

/**
 * The cluster name and plan ID of an archive folder's name (archiveDir's `<name>-<plan-id>`,
 * the plan ID being `plan-` and 8 hex digits); undefined for any other name. A cluster named
 * `zz-plan` never matches `zz`'s archives: the plan ID is matched exactly.
 */
export function parseArchiveName(dirName: string): { cluster: string; planId: string } | undefined {
  const m = /^(.+)-(plan-[0-9a-f]{8})$/.exec(dirName);
  return m ? { cluster: m[1], planId: m[2] } : undefined;
}
