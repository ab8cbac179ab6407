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
import {
  allOperations,
  type CheckResult,
  type Plan,
  type ValidationIssue,
} from "../plan/schema.ts";
import type { ApplyState } from "../state/schema.ts";
import { MupError } from "../errors.ts";
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
  then = "plan again",
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
    // No process to name: perhaps another mup's own probe, which binds the port for an instant
    // (two applies at once); only a port still taken a moment later is in use.
    if (!holder && !conn && await freeSoon(() => ex.portFree(p.port))) return [];
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
        then,
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

/** Whether `free` says true within three looks 200 ms apart (a false from an error counts). */
async function freeSoon(free: () => Promise<boolean>): Promise<boolean> {
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 200));
    if (await free().catch(() => false)) return true;
  }
  return false;
}

/**
 * At `plan apply` and `plan resume`, before anything starts: the ports of the processes the
 * plan starts are free, or held by those processes themselves. A port another process took
 * since the plan was made would otherwise fail only that start's safety check, after the starts
 * before it had run: a deploy would stop part way. A process the plan still has to stop before
 * it starts it (a restart not yet at its stop) holds its own port until then and is not checked
 * here. Throws MupError naming every port held (holder and
 * fix); nothing for a host it cannot ask (its start's own check meets it).
 */
export async function requireStartPortsFree(
  plan: Plan,
  executors: ExecutorFactory,
  state?: ApplyState,
): Promise<void> {
  const ops = allOperations(plan);
  // Processes the plan still has to stop before it starts them: they hold their ports until then.
  const stopping = new Set(
    ops.filter((o) =>
      o.type === "stop_process" && o.target.host && o.target.port &&
      state?.operation_states[o.id]?.status !== "completed"
    ).map((o) => hostPort(o.target.host!, o.target.port!)),
  );
  // A start completed before is checked too: should its process have gone and another taken
  // its port, the resume would run it again (recheck.ts) and meet the port taken.
  const starts = new Set(
    ops.filter((o) =>
      o.type === "start_process" && o.target.host && o.target.port &&
      o.pre_conditions.some((c) => c.check_type === "port_available") &&
      !stopping.has(hostPort(o.target.host, o.target.port))
    ).map((o) => hostPort(o.target.host!, o.target.port!)),
  );
  if (!starts.size) return;
  const procs = listProcesses(plan.topology, plan.deploy_dir).filter((p) =>
    starts.has(hostPort(p.host, p.port))
  );
  const { issues } = await checkStartPorts(
    procs,
    new Set(),
    executors,
    plan.cluster_name,
    `run \`mup plan ${state ? "resume" : "apply"}\` again`,
  );
  if (!issues.length) return;
  throw new MupError(
    `plan ${plan.plan_id} would start processes on ports that other processes have taken ` +
      `since it was made; nothing was ${state ? "resumed" : "started"}:\n${
        issues.map((i) => `  • ${i.message}`).join("\n")
      }`,
    {
      hint: `free the ports, then ${
        state ? "resume again" : "apply the plan again"
      }; or change the ports in the topology and plan again`,
      details: { check: "start_ports_available", plan_id: plan.plan_id, issues },
    },
  );
}
