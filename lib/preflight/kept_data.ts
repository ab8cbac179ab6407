/**
 * Data directories another cluster's `destroy --retain-data` kept (lib/state/retained.ts): no
 * cluster of the store runs on them, but their data is still that cluster's (its users, its
 * replica set), so a saved plan of another cluster must not start on them (checkNoClash, the
 * `blocked` status of `plan list`) and no removal of another cluster may delete them
 * (removal_guard.ts). A first deploy's pre-flight refuses them on its own (retained.ts
 * checkRetainedData), naming the deploy under that cluster's name.
 */
import * as path from "node:path";
import { type ClusterClaims, otherClusters } from "./clusters.ts";
import { readMeta } from "../state/meta.ts";
import { retainedData, splitHostDir } from "../state/retained.ts";
import { hostKey } from "../topology/hosts.ts";
import { type NodeClaim, overlaps } from "../topology/layout.ts";

/** One kept data directory: whose (the destroyed cluster's name), on which host, where. */
export interface KeptData {
  cluster: string;
  host: string;
  dir: string;
}

/**
 * The data directories kept by destroys of clusters other than `except` under `clustersRoot`
 * (`<storage>/clusters`), those of a cluster deployed again since left out (its metadata holds
 * them). Unreadable archives are skipped (retainedData).
 */
export async function keptDataOf(clustersRoot: string, except: string): Promise<KeptData[]> {
  const out: KeptData[] = [];
  for (const r of await retainedData(path.dirname(clustersRoot))) {
    if (r.name === except) continue;
    if (await readMeta(path.join(clustersRoot, r.name)).catch(() => undefined)) continue;
    for (const d of r.data_dirs) out.push({ cluster: r.name, ...splitHostDir(d) });
  }
  return out;
}

/**
 * Of `mine`'s data directories, those that are, hold or lie inside data `kept` on the same
 * machine: one message each, naming the destroyed cluster and the ways out. Pure.
 */
export function keptClashes(mine: NodeClaim[], kept: KeptData[]): string[] {
  const out: string[] = [];
  for (const c of mine) {
    if (!c.files.data) continue;
    for (const k of kept) {
      if (hostKey(k.host) !== hostKey(c.host) || !overlaps(k.dir, c.files.data)) continue;
      out.push(
        `${c.section}[${c.index}] (${c.host}): data directory ${c.files.data} ${
          c.files.data.startsWith(k.dir + path.sep) ? "lies inside" : "holds"
        } the data \`mup cluster destroy ${k.cluster} --retain-data\` kept in ${k.dir}: deploy ` +
          `it as cluster ${k.cluster}, or remove that directory first if its data is not wanted`,
      );
    }
  }
  return out;
}

/** What the clusters under `clustersRoot` other than `cluster` hold, and the data they kept. */
export interface HeldByOthers {
  claims: ClusterClaims[];
  kept: KeptData[];
}

/** otherClusters() and keptDataOf() of `clustersRoot` but `cluster`, read once each. */
export async function heldByOthers(clustersRoot: string, cluster: string): Promise<HeldByOthers> {
  return {
    claims: await otherClusters(clustersRoot, cluster),
    kept: await keptDataOf(clustersRoot, cluster),
  };
}
