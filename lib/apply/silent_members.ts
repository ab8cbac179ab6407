/**
 * What a safety check's members that did not answer are: gone (no process holds the port: only
 * a start brings them back, membersDownAdvice), or running and silent (a process still holds
 * the port: stopped with SIGSTOP, or hung), which no start mends and a resume gets past once it
 * answers again.
 */
import type { OperationContext } from "../ops/operation.ts";
import { membersDownAdvice } from "../ops/timeout.ts";
import { splitHostPort } from "../topology/hosts.ts";
import { processState } from "../ops/process.ts";

/**
 * The advice for the members `down` (`host:port`) a safety check found not answering, and the
 * command that finishes the apply when a resume alone cannot (`replan`): for each member whose
 * port a process still holds, that process (PID; `kill -CONT` when it is stopped, its log when
 * it is hung) and the resume that goes on once it answers; for the others, membersDownAdvice.
 * Asks each member's host for the port's holder, and `ps` for its state.
 */
export async function downMembersAdvice(
  ctx: OperationContext,
  down: string[],
): Promise<{ advice: string; replan?: string }> {
  const held = await Promise.all(down.map(async (d) => {
    const [host, port] = splitHostPort(d);
    const ex = ctx.executors.forHost(host);
    const holder = await ex.portHolder?.(port).catch(() => undefined);
    if (!holder) return undefined;
    const stat = await processState(ex, holder.pid);
    return `${d} runs (PID ${holder.pid}) but does not answer: ${
      stat?.startsWith("T")
        ? `it is stopped (process state ${stat}; \`kill -CONT ${holder.pid}\` resumes it)`
        : "it is hung or busy (see its log)"
    }`;
  }));
  const silent = held.filter((h): h is string => h !== undefined);
  const gone = down.filter((_, i) => held[i] === undefined);
  const resume = `once it answers, \`mup plan resume ${ctx.plan.cluster_name}\` goes on`;
  if (!gone.length) return { advice: `${silent.join("; ")}; ${resume}` };
  const rest = membersDownAdvice(ctx, gone);
  return silent.length
    ? { advice: `${silent.join("; ")}; ${gone.join(", ")}: ${rest.advice}`, replan: rest.replan }
    : rest;
}
