/**
 * Pre-flight of the processes a plan starts (start, restart): each one's port is free on its host,
 * or held by that process itself (a restart stops it first). A port another process took while
 * the server was stopped would fail the start's `port_available` safety check at apply, after
 * the plan was approved and other processes were started or stopped; it is refused here, naming
 * the holder, as a deploy's pre-flight does (preflight.ts "ports").
 */
import type { ExecutorFactory } from "../executor/executor.ts";
import { executorKey } from "../executor/factory.ts";
import { configFilePath } from "../plan/mongo_config.ts";
import { listProcesses, type ProcessSpec } from "../plan/processes.ts";
import type { CheckResult, Plan, ValidationIssue } from "../plan/schema.ts";
import { hostPort } from "../topology/hosts.ts";
import { describeHolder } from "./ports.ts";

/**
 * The check `start_ports_available`, and an error per process of `procs` whose port another
 * process holds, naming host, port, the holder (PID and command, or the connection using the
 * port) and the fix. `running` holds the IDs of the processes that run now (probed): a port held
 * by a process mup cannot name is taken for theirs. A host that cannot be asked is not checked
 * here (the plan is refused for it already, or its start's own check meets it).
 */
export async function checkStartPorts(
  procs: ProcessSpec[],
  running: Set<string>,
  executors: ExecutorFactory,
  cluster: string,
): Promise<{ check: CheckResult; issues: ValidationIssue[] }> {
  const t0 = performance.now();
  // Hosts that can list their listeners are asked once, not once per port.
  const listening = new Map<string, Promise<Set<number> | undefined>>();
  const found = await Promise.all(procs.map(async (p): Promise<ValidationIssue[]> => {
    const ex = executors.forHost(p.host);
    let free: boolean | undefined;
    if (ex.listeningPorts) {
      const key = executorKey(p.host);
      if (!listening.has(key)) {
        listening.set(key, ex.listeningPorts().catch(() => undefined));
      }
      const ports = await listening.get(key)!;
      free = ports ? !ports.has(p.port) : undefined;
    } else free = await ex.portFree(p.port).catch(() => undefined);
    if (free !== false) return [];
    const holder = await ex.portHolder?.(p.port).catch(() => undefined);
    // The process itself (started with its own configuration file): a restart stops it first.
    if (holder?.command?.includes(configFilePath(p))) return [];
    if (!holder && running.has(p.id)) return [];
    const conn = holder ? undefined : await ex.portConnection?.(p.port).catch(() => undefined);
    const by = holder
      ? `held by ${describeHolder(holder)}`
      : conn
      ? `used by ${conn}`
      : "in use by a process mup cannot name (another user's?)";
    return [{
      code: "port_in_use",
      severity: "error",
      host: p.host,
      message: `${p.id} cannot start: its port ${hostPort(p.host, p.port)} is ${by}. Stop ` +
        `that process or move it off port ${p.port} (the port is cluster ${cluster}'s), then ` +
        "plan again",
    }];
  }));
  const issues = found.flat().sort((a, b) => a.message.localeCompare(b.message));
  return {
    check: {
      name: "start_ports_available",
      status: issues.length ? "failed" : "passed",
      message: issues.length
        ? `${issues.length} port(s) a start needs are held by other processes`
        : "the port of every process to start is free",
      duration: Math.round(performance.now() - t0),
    },
    issues,
  };
}

/**
 * checkStartPorts for a plan made from records alone (a rollback, which starts what a stop or
 * restart stopped): its start_process operations' processes, found in the plan's topology by
 * host and port. The check and its errors go into
 * the plan's validation, which they make invalid. Throws nothing for a host it cannot ask.
 */
export async function validateStartPorts(
  plan: Omit<Plan, "content_hash">,
  executors: ExecutorFactory,
): Promise<void> {
  const starts = new Set(
    plan.phases.flatMap((ph) => ph.operations)
      .filter((o) => o.type === "start_process" && o.target.host && o.target.port)
      .map((o) => hostPort(o.target.host!, o.target.port!)),
  );
  if (!starts.size) return;
  const procs = listProcesses(plan.topology, plan.deploy_dir).filter((p) =>
    starts.has(hostPort(p.host, p.port))
  );
  const { check, issues } = await checkStartPorts(procs, new Set(), executors, plan.cluster_name);
  plan.validation.checks.push(check);
  if (issues.length) {
    plan.validation.errors.push(...issues);
    plan.validation.valid = false;
  }
}
