import { MupError } from "../errors.ts";
import { hostPort, sameHostName, sameMachine, splitHostPort } from "../topology/hosts.ts";
import { reachedLocally } from "../executor/factory.ts";

/** The `-R role` / `-N host:port` filters of the cluster commands (TiUP's names). */
export interface ProcessFilter {
  /** mongod, config, mongos. */
  roles?: string[];
  /** `host:port` of processes. */
  nodes?: string[];
}

const ROLES = ["mongod", "config", "mongos"];

/**
 * The processes a filter selects, in their order. Pure. A node is matched by machine and port,
 * as hosts are everywhere in mup (topology/hosts.ts): `-N 127.0.0.1:P` selects the process
 * recorded as `localhost:P`; a host reached over SSH by its own name (a loopback address other
 * than 127.0.0.1 too); or by its process ID. Throws a MupError for an unknown role, and for a role or node that
 * matches no process (a typo must not silently select nothing), naming what there is (`cluster`:
 * the cluster's name, for the hint).
 */
export function selectProcesses<
  P extends { host: string; port: number; role: string; id?: string },
>(procs: P[], f: ProcessFilter = {}, cluster: string): P[] {
  for (const r of f.roles ?? []) {
    if (!ROLES.includes(r)) {
      throw new MupError(`unknown role "${r}" for -R`, { hint: `use one of ${ROLES.join(", ")}` });
    }
  }
  const hp = (p: P) => hostPort(p.host, p.port);
  const matches = (p: P, n: string) => {
    // Written as given (`::1:27017`), as MongoDB names it (`[::1]:27017`), or by the process
    // ID `cluster display --json` gives (`mongod-127.0.0.3-28012`: tester101 #4).
    if (`${p.host}:${p.port}` === n || hp(p) === n || (p.id !== undefined && p.id === n)) {
      return true;
    }
    const [host, port] = splitHostPort(n);
    if (port !== p.port || host === "" || !sameMachine(host, p.host)) return false;
    // A loopback address other than 127.0.0.1 stands for a host of its own, reached over SSH
    // (executor/factory.ts): `-N 127.0.0.9:P` is not 127.0.0.4's process (tester75).
    return reachedLocally(host) && reachedLocally(p.host) || sameHostName(host, p.host);
  };
  for (const n of f.nodes ?? []) {
    if (!procs.some((p) => matches(p, n))) {
      // Neither host:port nor a process ID: said as such, not as a process that is not there.
      const port = splitHostPort(n)[1];
      const anId = ROLES.some((r) => n.startsWith(`${r}-`)); // processes.ts processId
      if (!anId && !(Number.isInteger(port) && port > 0)) {
        throw new MupError(`-N ${n} is not host:port (nor a process ID)`, {
          hint: `give a process as host:port, e.g. ${
            procs[0] ? hp(procs[0]) : "localhost:27017"
          }, or by the ID \`mup cluster display ${cluster} --json\` gives`,
        });
      }
      throw new MupError(`-N ${n} matches no process of this cluster`, {
        hint: `the processes are ${procs.map(hp).join(", ")} (\`mup cluster display ${cluster}\`)`,
      });
    }
  }
  const roleOk = (p: P) => !f.roles?.length || f.roles.includes(p.role);
  const out = procs.filter((p) =>
    roleOk(p) && (!f.nodes?.length || f.nodes.some((n) => matches(p, n)))
  );
  if (f.roles?.length && f.nodes?.length && out.length === 0 && procs.some(roleOk)) {
    // Each matches processes (checked above): only the two together select none.
    const named = procs.filter((p) => f.nodes!.some((n) => matches(p, n)));
    throw new MupError(
      `-R ${f.roles.join(",")} and -N ${f.nodes.join(",")} together select no process: ${
        named.map((p) => `${hp(p)} is a ${p.role}`).join(", ")
      }`,
      {
        hint:
          "give -N alone to select those processes, or -R alone to select every one of its role",
      },
    );
  }
  if (f.roles?.length && out.length === 0) {
    const counts = ROLES.map((r) => [r, procs.filter((p) => p.role === r).length] as const)
      .filter(([, n]) => n > 0);
    throw new MupError(`-R ${f.roles.join(",")} matches no process of this cluster`, {
      hint: `this cluster has ${counts.map(([r, n]) => `${r} (${n})`).join(", ")}`,
    });
  }
  return out;
}

/** Commander collector for repeatable, comma-separable options (`-R config -R mongos`). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(",").map((s) => s.trim()).filter(Boolean)];
}
