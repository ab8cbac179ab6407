/**
 * Data directories a live mongod that is not the process's own holds (its `mongod.lock` names
 * it): another cluster's, one of another MUP_HOME (which this store's claims cannot see), or one
 * started by hand. A deploy that started its mongod there would fail (DBPathInUse), and what it
 * left would lead a destroy to that directory; so a deploy is refused at planning and again at
 * `plan apply`, before anything starts.
 */
import type { ExecutorFactory } from "../executor/executor.ts";
import { MupError } from "../errors.ts";
import { describeLockHolder, type LockHolder, lockHolder } from "../ops/process.ts";
import { configFilePath } from "../plan/mongo_config.ts";
import { listProcesses, type ProcessSpec } from "../plan/processes.ts";
import type { CheckResult, Plan, ValidationIssue } from "../plan/schema.ts";
import * as path from "node:path";
import { hostName, hostPort } from "../topology/hosts.ts";

/** One data directory held by another mongod. */
export interface HeldDataDir {
  proc: ProcessSpec;
  holder: LockHolder;
  /** The directory the holder runs on, when it is not the data directory itself but holds it. */
  inside?: string;
}

/**
 * The data directories of `procs` that a live mongod other than the process itself (one whose
 * command line names the process's own configuration file) holds: the directory itself, or
 * one it lies in (a mongod's files are all of its dbpath). Each directory is asked once, however
 * many processes lie in it. A host that cannot be asked is left to the connectivity check, or
 * to the operation that needs it.
 */
export async function heldDataDirs(
  procs: ProcessSpec[],
  executors: ExecutorFactory,
  /** Filled with the hosts that could not be asked (their directories were not checked). */
  unreached?: Set<string>,
): Promise<HeldDataDir[]> {
  const asked = new Map<string, Promise<LockHolder | undefined>>();
  const holderOf = (host: string, dir: string) => {
    // By the host as reached (each SSH host on its own), not the machine.
    const key = `${hostName(host)}\0${dir}`;
    if (!asked.has(key)) {
      asked.set(
        key,
        lockHolder(executors.forHost(host), dir).catch(() => {
          unreached?.add(host);
          return undefined;
        }),
      );
    }
    return asked.get(key)!;
  };
  const found = await Promise.all(
    procs.filter((p) => p.role !== "mongos").map(async (p): Promise<HeldDataDir[]> => {
      const holder = await holderOf(p.host, p.dirs.data);
      if (holder) {
        return holder.command.includes(configFilePath(p)) ? [] : [{ proc: p, holder }];
      }
      const above: string[] = [];
      for (let d = path.dirname(p.dirs.data); d !== path.dirname(d); d = path.dirname(d)) {
        above.push(d);
      }
      const holders = await Promise.all(above.map((d) => holderOf(p.host, d)));
      const at = holders.findIndex((h) => h);
      return at < 0 ? [] : [{ proc: p, holder: holders[at]!, inside: above[at] }];
    }),
  );
  return found.flat();
}

function describe(h: HeldDataDir): string {
  const where = `data directory ${h.proc.host}:${h.proc.dirs.data} of ${
    hostPort(h.proc.host, h.proc.port)
  }`;
  return h.inside
    ? `${where} lies inside ${h.inside}, the data directory of a running ${
      describeLockHolder(h.holder)
    }, which is not this cluster's`
    : `${where} is in use by a running ${
      describeLockHolder(h.holder)
    }, which is not this cluster's`;
}

const HINT = "give the process a data_dir of its own (or stop that mongod), then plan again";

/**
 * The pre-flight check of a deploy's data directories, from what heldDataDirs found (in
 * `durationMs`).
 */
export function checkDataDirsFree(
  held: HeldDataDir[],
  durationMs: number,
  recorded?: string,
  /** Hosts that could not be asked: not checked, never reported as passed (tester74). */
  unreached: Set<string> = new Set(),
): { check: CheckResult; issues: ValidationIssue[] } {
  const not = unreached.size
    ? ` (not checked on ${[...unreached].sort().join(", ")}: not reached)`
    : "";
  return {
    check: {
      name: "data_dirs_free",
      status: held.length ? "failed" : unreached.size ? "warning" : "passed",
      message:
        (held.length
          ? `${held.length} data director${
            held.length === 1 ? "y is" : "ies are"
          } in use by another mongod`
          : "no other mongod runs on a data directory") + not,
      duration: durationMs,
    },
    issues: held.map((h) => ({
      code: "data_dir_in_use",
      severity: "error" as const,
      host: h.proc.host,
      message: recorded && !h.inside
        // A repair's own member, started by hand with another configuration file: a new
        // data_dir is no answer (tester59); its stop finds it by the pid file.
        ? `data directory ${h.proc.host}:${h.proc.dirs.data} of ${
          hostPort(h.proc.host, h.proc.port)
        } is in use by a running ${
          describeLockHolder(h.holder)
        }, not started with the configuration mup wrote for it (started by hand?): ` +
          `\`mup cluster stop ${recorded} -N ${
            hostPort(h.proc.host, h.proc.port)
          }\` stops it, then plan again`
        : `${describe(h)}: ${HINT}`,
    })),
  };
}

/**
 * `plan apply` of a deploy (first or repair): refused, before anything starts, when a data
 * directory is held by another mongod since planning (another store's cluster, which this
 * store's claims cannot see). Other plans pass.
 */
export async function requireDataDirsFree(
  plan: Plan,
  clusterDir: string,
  executors: ExecutorFactory,
): Promise<void> {
  if (plan.operation !== "deploy") return;
  const procs = listProcesses(plan.topology, path.join(clusterDir, "deploy"));
  const held = await heldDataDirs(procs, executors);
  if (!held.length) return;
  throw new MupError(
    `plan ${plan.plan_id} would start mongod on a data directory another mongod holds:\n${
      held.map((h) => `  • ${describe(h)}`).join("\n")
    }`,
    { hint: HINT },
  );
}
