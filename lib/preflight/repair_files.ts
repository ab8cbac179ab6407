/** The repair's look at the hosts: which files a repair deploy writes again are gone or changed. */
import type { ExecutorFactory } from "../executor/executor.ts";
import type { RepairFile, RepairFinding } from "../plan/repair_files.ts";
import { hostKey } from "../topology/hosts.ts";
import { secretExists, secretPath } from "../security/secrets.ts";
import { sha256File } from "../util/file_hash.ts";
import { verifyCertificate } from "../security/tls.ts";
import { SECRET } from "../security/settings.ts";
import { missingPaths } from "./start_files.ts";

/**
 * Which of `files` are missing on their hosts (one `sh` per host), and which configurations
 * hold other content than planned. A host that cannot be asked finds nothing: the apply's own
 * checks meet it.
 *
 * @param resigned references of certificates the repair signs again because the store's copy
 *   is not the CA's for its host: a host's copy of one is "not the cluster's" only when it does
 *   not verify against the store's CA for that host either (then a member started on it
 *   presents it), never merely for differing from the store's bad copy.
 */
export async function findRepairFiles(
  files: RepairFile[],
  executors: ExecutorFactory,
  cluster: string,
  resigned: ReadonlySet<string> = new Set(),
): Promise<RepairFinding[]> {
  const byHost = new Map<string, RepairFile[]>();
  for (const f of files) byHost.set(hostKey(f.host), [...(byHost.get(hostKey(f.host)) ?? []), f]);
  const found = await Promise.all([...byHost.values()].map(async (list) => {
    const ex = executors.forHost(list[0].host);
    const missing = await missingPaths(ex, list.map((f) => f.path));
    if (!missing) return [];
    return await Promise.all(list.map(async (f, i): Promise<RepairFinding | undefined> => {
      if (missing.has(i)) return { op: f.op, path: f.path, found: "missing" };
      if (f.secret && resigned.has(f.secret)) {
        const pem = await ex.readFile(f.path).catch(() => undefined);
        const ca = secretPath(cluster, SECRET.ca);
        const v = pem && await secretExists(cluster, SECRET.ca) &&
          await verifyCertificate(ca, { pem: new TextDecoder().decode(pem) }, f.host);
        // Neither said (no CA in the store, no openssl): nothing found.
        return v && "ok" in v && !v.ok
          ? { op: f.op, path: f.path, found: "differs", what: "secret" }
          : undefined;
      }
      if (f.secret) {
        // A keyfile or certificate with other content than the cluster's secrets store holds.
        const want = await sha256File(secretPath(cluster, f.secret)).catch(() => undefined);
        const now = await ex.sha256(f.path).catch(() => undefined);
        return want && now && now !== want
          ? { op: f.op, path: f.path, found: "differs", what: "secret" }
          : undefined;
      }
      if (f.sha256) {
        const now = await ex.sha256(f.path).catch(() => undefined);
        return now && now !== f.sha256
          ? { op: f.op, path: f.path, found: "differs", what: "binary" }
          : undefined;
      }
      if (f.content === undefined) return undefined;
      const now = await ex.readFile(f.path).catch(() => undefined);
      return now && new TextDecoder().decode(now) !== f.content
        ? { op: f.op, path: f.path, found: "differs" }
        : undefined;
    }));
  }));
  return found.flat().filter((f) => f !== undefined);
}
