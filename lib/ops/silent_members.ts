/**
 * What a safety check's members that did not answer are: gone (no process holds the port: only
 * a start brings them back, membersDownAdvice), or running and silent (a process still holds
 * the port: stopped with SIGSTOP, or hung), which no start mends and a resume gets past once it
 * answers again.
 */
import type { OperationContext } from "./operation.ts";
import type { Executor } from "../executor/executor.ts";
import { membersDownAdvice } from "./timeout.ts";
import { splitHostPort } from "../topology/hosts.ts";
import { processState } from "./process.ts";

/**
 * Member `d` (`host:port`, on the host `ex` reaches) that did not answer, if a process still
 * holds its port: its PID, whether it is stopped (process state T: SIGSTOP, a debugger), and
 * the sentence that says so (`kill -CONT` for a stopped one, its log for a hung one). Undefined
 * when nothing holds the port (it is gone: only a start brings it back).
 */
export async function silentMember(
  ex: Executor,
  d: string,
): Promise<{ pid: number; stopped: boolean; text: string } | undefined> {
  const holder = await ex.portHolder?.(splitHostPort(d)[1]).catch(() => undefined);
  if (!holder) return undefined;
  const stat = await processState(ex, holder.pid);
  const stopped = !!stat?.startsWith("T");
  return {
    pid: holder.pid,
    stopped,
    text: `${d} runs (PID ${holder.pid}) but does not answer: ${
      stopped
        ? `it is stopped (process state ${stat}; \`kill -CONT ${holder.pid}\` resumes it)`
        : "it is hung or busy (see its log)"
    }`,
  };
}

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
  const held = await Promise.all(
    down.map(async (d) =>
      (await silentMember(ctx.executors.forHost(splitHostPort(d)[0]), d))?.text
    ),
  );
  const silent = held.filter((h): h is string => h !== undefined);
  const gone = down.filter((_, i) => held[i] === undefined);
  const resume = `once it answers, \`mup plan resume ${ctx.plan.cluster_name}\` goes on`;
  if (!gone.length) return { advice: `${silent.join("; ")}; ${resume}` };
  const rest = membersDownAdvice(ctx, gone);
  return silent.length
    ? { advice: `${silent.join("; ")}; ${gone.join(", ")}: ${rest.advice}`, replan: rest.replan }
    : rest;
}
