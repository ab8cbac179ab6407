/**
 * The MongoAccess of a cluster: its security settings (topology `global.security`) joined to its
 * secrets store and its hosts' executors. Made once per cluster and command; operations get it
 * through lib/ops/cluster_client.ts, probes from the command that runs them.
 */
import type { ExecutorFactory } from "../executor/executor.ts";
import { reachedLocally } from "../executor/factory.ts";
import { type ClientSecurity, MongoAccess } from "../mongo/client.ts";
import { connectionString } from "../plan/processes.ts";
import type { Topology } from "../topology/schema.ts";
import { readAdmin, secretPath } from "./secrets.ts";
import { loopbackAddress, SECRET, securityOf } from "./settings.ts";

/**
 * The client of cluster `cluster` deployed with `topology`. `executors` reach remote hosts for
 * the localhost exception (an SSH port forward to the host's loopback); without them, a remote
 * host is reached directly.
 */
export function clusterAccess(
  cluster: string,
  topology: Pick<Topology, "global">,
  executors?: ExecutorFactory,
): MongoAccess {
  const s = securityOf(topology);
  const sec: ClientSecurity = {};
  if (s.auth) {
    let cached: { user: string; password: string } | undefined;
    sec.credentials = async () => {
      if (cached) return cached;
      const a = await readAdmin(cluster);
      if (a) cached = { user: a.user, password: a.password };
      return cached;
    };
    sec.loopback = (host, port) => loopbackRoute(host, port, executors);
  }
  // The CA is offered whenever the cluster has one, also while its metadata says no TLS: during
  // `cluster tls enable|disable` members run in different modes, and MongoAccess uses TLS with
  // each member that speaks it.
  {
    const ca = secretPath(cluster, SECRET.ca);
    sec.caFile = async () => {
      try {
        await Deno.stat(ca);
        return ca;
      } catch {
        return undefined;
      }
    };
  }
  return new MongoAccess(sec);
}

/**
 * How to reach `host:port` from the host's own loopback interface: directly on the control
 * machine, through an SSH local port forward (over the host's multiplexed master) elsewhere.
 */
async function loopbackRoute(
  host: string,
  port: number,
  executors?: ExecutorFactory,
): Promise<{ host: string; port: number }> {
  const target = loopbackAddress(host);
  if (reachedLocally(host) || !executors) {
    return reachedLocally(host) ? { host: target, port } : { host, port };
  }
  const ex = executors.forHost(host);
  if (!ex.forward) return { host, port };
  return { host: "127.0.0.1", port: await ex.forward(target, port) };
}

/** The connection string of cluster `cluster` as users get it: with its CA file under TLS. */
export function clusterConnectionString(cluster: string, topology: Topology): string {
  return connectionString(
    topology,
    securityOf(topology).tls ? secretPath(cluster, SECRET.ca) : undefined,
  );
}
