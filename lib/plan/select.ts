import { MupError } from "../errors.ts";

/** The `-R role` / `-N host:port` filters of the cluster commands (TiUP's names). */
export interface ProcessFilter {
  /** mongod, config, mongos. */
  roles?: string[];
  /** `host:port` of processes. */
  nodes?: string[];
}

const ROLES = ["mongod", "config", "mongos"];

/**
 * The processes a filter selects, in their order. Pure. Throws a MupError for an unknown role,
 * and for a role or node that matches no process (a typo must not silently select nothing).
 */
export function selectProcesses<
  P extends { host: string; port: number; role: string },
>(procs: P[], f: ProcessFilter = {}): P[] {
  for (const r of f.roles ?? []) {
    if (!ROLES.includes(r)) {
      throw new MupError(`unknown role "${r}" for -R`, { hint: `use one of ${ROLES.join(", ")}` });
    }
  }
  const hp = (p: P) => `${p.host}:${p.port}`;
  for (const n of f.nodes ?? []) {
    if (!procs.some((p) => hp(p) === n)) {
      throw new MupError(`-N ${n} matches no process of this cluster`, {
        hint: `the processes are ${procs.map(hp).join(", ")} (\`mup cluster display <name>\`)`,
      });
    }
  }
  const roleOk = (p: P) => !f.roles?.length || f.roles.includes(p.role);
  const out = procs.filter((p) => roleOk(p) && (!f.nodes?.length || f.nodes.includes(hp(p))));
  if (f.roles?.length && out.length === 0) {
    throw new MupError(`-R ${f.roles.join(",")} matches no process of this cluster`);
  }
  return out;
}

/** Commander collector for repeatable, comma-separable options (`-R config -R mongos`). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(",").map((s) => s.trim()).filter(Boolean)];
}
