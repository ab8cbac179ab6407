/**
 * Pre-flight of a saved scale-out or scale-in: the processes it will need to answer and that it
 * does not start itself answer now: those its safety checks list (`members_reachable`: the mongos
 * that adds a shard, the members of a set that stay), the mongos a shard is removed through,
 * what a scale-in's health check judges (mongos apart), and a primary of each set a scale-out
 * adds members to (one of its recorded members must know one). Planned, the command refused a recorded process
 * that was down; a saved plan applied after one went down would otherwise install, start and
 * initiate its new processes, or take members out, before it reached that check and failed.
 */
import type { ExecutorFactory } from "../executor/executor.ts";
import { MupError } from "../errors.ts";
import { shellQuote } from "../executor/shell_quote.ts";
import { allOperations, type Plan } from "../plan/schema.ts";
import { replanCommand } from "../plan/command_of.ts";
import { clusterAccess } from "../security/access.ts";
import { hostPort, machinePort, splitHostPort } from "../topology/hosts.ts";
import { silentMember } from "../ops/silent_members.ts";

/** The plan operations this check is made for: the others handle a process down their own way. */
const GUARDED = new Set(["scale-out", "scale-in"]);

/**
 * Throws a MupError, before anything of the apply runs, naming each process (`host:port`) that
 * `plan` needs (as the module comment lists), that no operation of the plan starts, and that
 * does not answer hello now (for a set a scale-out adds members to: its members, when none that
 * answers knows a primary); with `cluster start -N` of them and the plan made again
 * (replanCommand), or, for one whose process still holds its port (stopped, hung), that process
 * and this plan applied again once it answers. Does nothing for other plans than a scale-out
 * or a scale-in. Not for a resume: a start is refused over the unfinished apply, and its
 * failing check names what works.
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
  const need = (m: string) => started.has(machinePort(m)) || needed.add(m);
  // Sets a scale-out adds members to: one of their recorded members must know a primary.
  const sets: { name: string; members: string[] }[] = [];
  for (const o of ops) {
    for (const c of o.pre_conditions ?? []) {
      if (c.check_type !== "members_reachable") continue;
      const members = Array.isArray(c.params.members) ? c.params.members as string[] : [];
      members.forEach(need);
    }
    const t = o.target;
    // The mongos a shard is drained and removed through.
    if (o.type === "remove_shard" && t.host && t.port) need(hostPort(t.host, t.port));
    // What a scale-in's health check judges (a mongos there may be down: routers_optional).
    if (o.type === "verify_health" && plan.operation === "scale-in") {
      const procs = JSON.parse(t.params.processes ?? "[]") as {
        host: string;
        port: number;
        role: string;
      }[];
      procs.filter((x) => x.role !== "mongos").forEach((x) => need(hostPort(x.host, x.port)));
    }
    if (o.type === "add_members" && t.params.members) {
      sets.push({ name: t.name, members: JSON.parse(t.params.members) as string[] });
    }
  }
  if (!needed.size && !sets.length) return;
  const access = clusterAccess(plan.cluster_name, plan.topology, executors);
  const asHost = (m: string) => {
    const [host, port] = splitHostPort(m);
    return { id: m, host, port };
  };
  const down = [...await access.unanswered([...needed].map(asHost))];
  for (const s of sets) {
    const hellos = await Promise.all(s.members.map((m) => access.hello(...splitHostPort(m))));
    if (hellos.some((h) => h?.isWritablePrimary || typeof h?.primary === "string")) continue;
    down.push(...s.members.filter((_, i) => !hellos[i]));
  }
  down.sort();
  if (!down.length) return;
  // One that still runs (stopped, or hung) is not started: it is let go on, and this very
  // plan applied then, since nothing changed the cluster.
  const held = await Promise.all(
    down.map((d) => silentMember(executors.forHost(splitHostPort(d)[0]), d)),
  );
  const gone = down.filter((_, i) => !held[i]);
  const silent = held.filter((h) => h !== undefined);
  const name = plan.cluster_name;
  const start = `mup cluster start ${name} ${gone.map((d) => `-N ${shellQuote(d)}`).join(" ")}`;
  const hint = [
    ...silent.map((h) => h.text),
    ...(silent.length && !gone.length
      ? [
        `once ${
          silent.length === 1 ? "it answers" : "they answer"
        }, apply this plan again (\`mup plan apply ${plan.plan_id}\`)`,
      ]
      : []),
    ...(gone.length
      ? [
        `\`${start}\` starts ${gone.length === 1 ? "it" : "them"}; then plan the ` +
        `${plan.operation} again (\`mup ${replanCommand(plan)}\`): the start changes the ` +
        "cluster this plan was made for",
      ]
      : []),
  ].join("; ");
  throw new MupError(
    `${down.join(", ")} ${down.length === 1 ? "does" : "do"} not answer, and this ` +
      `${plan.operation} needs ${down.length === 1 ? "it" : "them"} (its safety checks would ` +
      `fail part way, after it changed the cluster); nothing was applied`,
    {
      hint,
      details: {
        check: "needed_processes_answer",
        down,
        ...(silent.length ? { running: silent.map((h) => h.pid) } : {}),
      },
    },
  );
}
