/**
 * What every cluster recorded under $MUP_HOME holds — ports, data directories, log files — so
 * that a new deployment cannot take over another cluster's (running or stopped), and so that a
 * cluster's own processes are recognised when it is planned again.
 */
import * as path from "node:path";
import { listDir } from "../plan/store.ts";
import { isStale, readLock } from "../state/lock.ts";
import { readMeta } from "../state/meta.ts";
import type { ApplyState } from "../state/schema.ts";
import { StateStore } from "../state/store.ts";
import type { CheckResult, ValidationIssue } from "../plan/schema.ts";
import { hostKey, hostPort } from "../topology/hosts.ts";
import {
  type NodeClaim,
  nodeClaims,
  overlaps,
  type RootClaim,
  rootClaims,
} from "../topology/layout.ts";
import { Topology } from "../topology/schema.ts";

/** The processes one recorded cluster holds, from its metadata and from every apply it ran. */
export interface ClusterClaims {
  cluster: string;
  claims: NodeClaim[];
  /** Its deploy root on each host: the binaries and secrets all its processes share. */
  roots: RootClaim[];
}

/**
 * Whether an apply state of a cluster without metadata holds nothing: a rollback's own apply
 * (it only stops and removes what the apply it undoes holds), or an apply rolled back to its
 * start (nothing of it is left). An apply rolled back to a later checkpoint still holds what ran
 * before that checkpoint. States written before `rolled_back_to` existed say it in their log.
 */
export function holdsNothing(state: ApplyState): boolean {
  if (state.operation === "rollback") return true;
  if (state.status !== "rolled_back") return false;
  if (state.rolled_back_to !== undefined) return state.rolled_back_to === "start";
  const last = state.execution_log.findLast((e) => / rolled back to \S+ by /.test(e.message));
  return last !== undefined && / rolled back to start by /.test(last.message);
}

/**
 * Topologies a cluster holds: meta.yaml's once a deploy completed (a later deploy of it may only
 * repair, so its plans hold nothing more); before that, the plan of each apply it ran that was
 * not rolled back to its start (see holdsNothing), and of an apply being started.
 */
async function recordedTopologies(clusterDir: string): Promise<Topology[]> {
  const out: Topology[] = [];
  const meta = await readMeta(clusterDir).catch(() => undefined);
  if (meta) return [meta.topology];
  const seen = new Set<string>();
  // A pending apply (recorded, nothing run yet) holds its plan only while its mup lives.
  const lock = await readLock(clusterDir);
  const applying = lock !== undefined && !isStale(lock);
  // Damaged states are left out by list(): they claim nothing more than the metadata does.
  for (const state of await new StateStore(clusterDir).list().catch(() => [])) {
    if (holdsNothing(state) || (state.status === "pending" && !applying)) continue;
    if (!state.plan_path || seen.has(state.plan_path)) continue;
    seen.add(state.plan_path);
    try {
      const plan = JSON.parse(await Deno.readTextFile(state.plan_path));
      const t = Topology.safeParse(plan.topology);
      if (t.success) out.push(t.data);
    } catch {
      // A removed plan claims nothing more than the metadata does.
    }
  }
  return out;
}

/**
 * Every process a cluster holds: from meta.yaml (written at the end of a deploy) or, for a
 * deploy that failed part way, from the plans of its apply states. Processes claimed by several
 * of them are listed once.
 */
export async function clusterClaims(clusterDir: string, cluster: string): Promise<ClusterClaims> {
  const deployDir = path.join(clusterDir, "deploy");
  const claims = new Map<string, NodeClaim>();
  const roots = new Map<string, RootClaim>();
  for (const t of await recordedTopologies(clusterDir)) {
    for (const c of nodeClaims(t, deployDir)) {
      const key = `${hostKey(c.host)}:${c.port}:${c.files.config}`;
      if (!claims.has(key)) claims.set(key, c);
    }
    for (const r of rootClaims(t, deployDir)) {
      const key = `${hostKey(r.host)}\0${r.root}`;
      if (!roots.has(key)) roots.set(key, r);
    }
  }
  return { cluster, claims: [...claims.values()], roots: [...roots.values()] };
}

/** The claims of every cluster under `clustersRoot` but `except`. */
export async function otherClusters(
  clustersRoot: string,
  except: string,
): Promise<ClusterClaims[]> {
  const out: ClusterClaims[] = [];
  for (const name of await listDir(clustersRoot)) {
    if (name === except) continue;
    const c = await clusterClaims(path.join(clustersRoot, name), name);
    if (c.claims.length) out.push(c);
  }
  return out;
}

/** Each port `others` record, keyed `${hostKey(host)}:${port}`, with its cluster's name. */
export function otherPorts(others: ClusterClaims[]): Map<string, string> {
  return new Map(
    others.flatMap((o) => o.claims.map((c) => [`${hostKey(c.host)}:${c.port}`, o.cluster])),
  );
}

/**
 * Where `mine` would take what another cluster holds on the same machine: a port, a data
 * directory, a log, configuration or pid file, or (`roots`, this cluster's deploy roots) the
 * binaries and secrets of a deploy root (`bin/`, `secrets/`: the same directory, or one inside
 * the other). Pure; one message per clash, naming the entry and the other cluster.
 */
export function clashes(
  mine: NodeClaim[],
  others: ClusterClaims[],
  roots: RootClaim[] = [],
): string[] {
  const held = new Map<string, string>();
  const entry = (c: NodeClaim) => `${c.section}[${c.index}]`;
  for (const o of others) {
    for (const c of o.claims) {
      const m = hostKey(c.host);
      const who = `cluster ${o.cluster} (its ${entry(c)}, ${hostPort(c.host, c.port)})`;
      held.set(`port\0${m}\0${c.port}`, who);
      if (c.files.data) held.set(`data\0${m}\0${c.files.data}`, who);
      held.set(`log\0${m}\0${c.files.log}`, who);
      held.set(`config\0${m}\0${c.files.config}`, who);
      held.set(`pid\0${m}\0${c.files.pid}`, who);
    }
  }
  // Data directories by machine: one inside another's (either way) is that cluster's data too;
  // a destroy of either would remove the other's files.
  const dataDirs: { m: string; dir: string; who: string }[] = others.flatMap((o) =>
    o.claims.flatMap((c) =>
      c.files.data
        ? [{
          m: hostKey(c.host),
          dir: c.files.data,
          who: `cluster ${o.cluster} (its ${entry(c)}, ${hostPort(c.host, c.port)})`,
        }]
        : []
    )
  );
  const out: string[] = [];
  for (const c of mine) {
    const m = hostKey(c.host);
    const here = `${entry(c)} (${hostPort(c.host, c.port)})`;
    for (const d of dataDirs) {
      if (!c.files.data || d.m !== m || d.dir === c.files.data || !overlaps(d.dir, c.files.data)) {
        continue;
      }
      out.push(
        `${here}: data directory ${c.files.data} ${
          c.files.data.startsWith(d.dir) ? "lies inside" : "holds"
        } data directory ${d.dir} of ${d.who}`,
      );
    }
    const port = held.get(`port\0${m}\0${c.port}`);
    if (port) out.push(`${here}: port ${c.port} on ${c.host} belongs to ${port}`);
    const data = c.files.data && held.get(`data\0${m}\0${c.files.data}`);
    if (data) out.push(`${here}: data directory ${c.files.data} belongs to ${data}`);
    const log = held.get(`log\0${m}\0${c.files.log}`);
    if (log) out.push(`${here}: log file ${c.files.log} belongs to ${log}`);
    const config = held.get(`config\0${m}\0${c.files.config}`);
    if (config) out.push(`${here}: configuration file ${c.files.config} belongs to ${config}`);
    const pid = held.get(`pid\0${m}\0${c.files.pid}`);
    if (pid) out.push(`${here}: pid file ${c.files.pid} belongs to ${pid}`);
  }
  return [...out, ...rootClashes(roots, others)];
}

/**
 * Where this cluster's deploy roots share their binaries or secrets (`bin/`, `secrets/`) with
 * another cluster's on the same machine: one message per root, host and other cluster.
 */
function rootClashes(roots: RootClaim[], others: ClusterClaims[]): string[] {
  const out = new Set<string>();
  for (const r of roots) {
    for (const o of others) {
      for (const h of o.roots) {
        if (hostKey(h.host) !== hostKey(r.host)) continue;
        const shared = r.parts.filter((p) => h.parts.some((q) => overlaps(p, q)));
        if (!shared.length) continue;
        out.add(
          `deploy root ${r.root} on ${r.host}: ${
            shared.map((p) => `${path.basename(p)}/`).join(" and ")
          } (the binaries and keyfile every process of a cluster shares) would be those of cluster ${o.cluster} (deploy root ${h.root} on ${h.host}); its destroy would remove them from under it`,
        );
      }
    }
  }
  return [...out];
}

/**
 * A first deploy planned again after one that failed part way: the processes that earlier
 * attempt holds (`own`, from clusterClaims) and `planned` (the new topology's claims) does not
 * have. A deploy that then completed would record a cluster without them, so their processes
 * and directories would belong to no command: refused, with the command that removes them.
 * Pure: `own` was read beforehand.
 */
export function strayClaims(
  cluster: string,
  own: ClusterClaims,
  planned: NodeClaim[],
): { check: CheckResult; issues: ValidationIssue[] } {
  const keep = new Set(planned.map((c) => `${hostKey(c.host)}:${c.port}`));
  const stray = own.claims.filter((c) => !keep.has(`${hostKey(c.host)}:${c.port}`));
  const where = stray.map((c) => hostPort(c.host, c.port)).join(", ");
  return {
    check: {
      name: "earlier_attempts",
      status: stray.length ? "failed" : "passed",
      message: stray.length
        ? `an earlier deploy of ${cluster} that did not complete holds ${where}, which this topology does not have`
        : "nothing an earlier attempt left is outside this topology",
      duration: 0,
    },
    issues: stray.length
      ? [{
        code: "earlier_attempts",
        severity: "error",
        message:
          `an earlier deploy of cluster ${cluster} that did not complete holds ${where} (processes, directories), which this topology does not have: \`mup cluster destroy ${cluster}\` stops and removes what it left, then deploy again; or deploy with the earlier topology`,
      }]
      : [],
  };
}
