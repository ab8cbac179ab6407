/**
 * Pre-flight of a saved scale-out or scale-in: the processes its safety checks will need to
 * answer (`members_reachable`: the mongos that adds a shard, the members of a set that stay)
 * and that it does not start itself answer now. Planned, the command refused a recorded process
 * that was down; a saved plan applied after one went down would otherwise install, start and
 * initiate its new processes, or take members out, before it reached that check and failed.
 */
import type { ExecutorFactory } from "../executor/executor.ts";
import { MupError } from "../errors.ts";
import { allOperations, type Plan } from "../plan/schema.ts";
import { replanCommand } from "../plan/command_of.ts";
import { clusterAccess } from "../security/access.ts";
import { hostPort, machinePort, splitHostPort } from "../topology/hosts.ts";

/** The plan operations this check is made for: the others handle a process down their own way. */
const GUARDED = new Set(["scale-out", "scale-in"]);

/**
 * Throws a MupError, before anything of the apply runs, naming each process (`host:port`) that
 * a `members_reachable` safety check of `plan` lists, that no operation of the plan starts, and
 * that does not answer hello now; with `cluster start -N` of them and the plan made again
 * (replanCommand). Does nothing for other plans than a scale-out or a scale-in. Not for a
 * resume: a start is refused over the unfinished apply, and its failing check names what works.
 */
export async function requireNeededReachable(
  plan: Plan,
  executors: ExecutorFactory,
): Promise<void> {
  if (!GUARDED.has(plan.operation)) return;
  const ops = allOperations(plan);
  const started = new Set(
    ops.filter((o) => o.type === "start_process" && o.target.host && o.target.port)
      .map((o) => machinePort(hostPort(o.target.host!, o.target.port!))),
  );
  const needed = new Set<string>();
  for (const o of ops) {
    for (const c of o.pre_conditions ?? []) {
      if (c.check_type !== "members_reachable") continue;
      const members = Array.isArray(c.params.members) ? c.params.members as string[] : [];
      for (const m of members) if (!started.has(machinePort(m))) needed.add(m);
    }
  }
  if (!needed.size) return;
  const access = clusterAccess(plan.cluster_name, plan.topology, executors);
  const listed = [...needed].map((m) => {
    const [host, port] = splitHostPort(m);
    return { id: m, host, port };
  });
  const down = [...await access.unanswered(listed)].sort();
  if (!down.length) return;
  const name = plan.cluster_name;
  const start = `mup cluster start ${name} ${down.map((d) => `-N ${d}`).join(" ")}`;
  throw new MupError(
    `${down.join(", ")} ${down.length === 1 ? "does" : "do"} not answer, and this ` +
      `${plan.operation} needs ${down.length === 1 ? "it" : "them"} (its safety checks would ` +
      `fail part way, after it changed the cluster); nothing was applied`,
    {
      hint: `\`${start}\` starts ${down.length === 1 ? "it" : "them"}; then plan the ` +
        `${plan.operation} again (\`mup ${replanCommand(plan)}\`): the start changes the ` +
        "cluster this plan was made for",
      details: { check: "needed_processes_answer", down },
    },
  );
}
