/**
 * What a removal (remove_directory) leaves alone, looked at as it runs: a plan made before the
 * world changed, by an older mup, or resealed by hand may name it. Another cluster recorded in
 * this store keeps what it uses on the same machine (its deploy root's binaries and secrets,
 * its data directories) and the data its destroy kept (`--retain-data`), and a data directory
 * a live mongod holds (its `mongod.lock`) is kept
 * whoever runs it (another store's cluster, a mongod started by hand).
 */
import * as path from "node:path";
import type { Executor } from "../executor/executor.ts";
import { type HeldByOthers, heldByOthers } from "../preflight/kept_data.ts";
import { hostKey, hostPort } from "../topology/hosts.ts";
import { storageRoot } from "../util/path.ts";
import type { OperationContext } from "./operation.ts";
import { describeLockHolder, lockHolder } from "./process.ts";

/** How a removal treats its directory: see lib/ops/remove_directory.ts. */
export type RemovalMode = "all" | "if_empty" | "files";

/** What the other clusters hold and kept (kept_data.ts), read once per apply and process. */
const heldOf = new Map<string, Promise<HeldByOthers>>();

function others(ctx: OperationContext): Promise<HeldByOthers> {
  const clusters = path.join(storageRoot(), "clusters");
  const key = `${clusters}\0${ctx.plan.plan_id}\0${ctx.stateId}`;
  let found = heldOf.get(key);
  if (!found) {
    found = heldByOthers(clusters, ctx.plan.cluster_name).catch(() => ({ claims: [], kept: [] }));
    heldOf.set(key, found);
  }
  return found;
}

/**
 * Why `dir` on the operation's host must stay, or undefined when it may go. `mode` says what
 * the removal takes: everything in it (`all`), or only some of its files (`files`: own_files,
 * process_files; then a directory of another cluster's inside it is not touched).
 */
export async function mustKeep(
  ctx: OperationContext,
  ex: Executor,
  dir: string,
  mode: RemovalMode,
): Promise<string | undefined> {
  if (mode === "if_empty") return undefined;
  const host = ctx.op.target.host!;
  const machine = hostKey(host);
  // The same directory, one inside it, or (when all of it goes) one it holds.
  const hits = (q: string) =>
    dir === q || dir.startsWith(q + path.sep) || (mode === "all" && q.startsWith(dir + path.sep));
  const held = await others(ctx);
  for (const o of held.claims) {
    for (const r of o.roots) {
      if (hostKey(r.host) !== machine) continue;
      const part = r.parts.find(hits);
      if (part) {
        return `cluster ${o.cluster} uses ${part} (its deploy root ${r.root} on ${r.host} ` +
          "holds the binaries and secrets its processes share): not this cluster's to remove";
      }
    }
    for (const c of o.claims) {
      if (hostKey(c.host) !== machine || !c.files.data || !hits(c.files.data)) continue;
      return `it is (or holds) the data directory ${c.files.data} of cluster ${o.cluster} ` +
        `(its ${hostPort(c.host, c.port)}): not this cluster's to remove`;
    }
  }
  for (const k of held.kept) {
    if (hostKey(k.host) !== machine || !hits(k.dir)) continue;
    return `it is (or holds) the data directory ${k.dir} that \`mup cluster destroy ` +
      `${k.cluster} --retain-data\` kept: not this cluster's to remove`;
  }
  if (mode !== "all") return undefined;
  const holder = await lockHolder(ex, dir);
  if (holder) {
    return `a running ${describeLockHolder(holder)} holds it (its mongod.lock): ` +
      "mup does not remove a data directory under a live mongod; stop that mongod first if " +
      "the directory is to go, then remove it yourself";
  }
  return undefined;
}
