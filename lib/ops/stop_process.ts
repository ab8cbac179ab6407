import { poll, TlsUntrustedError } from "../mongo/client.ts";
import { mongo } from "./cluster_client.ts";
import { type Operation, type OperationContext, OperationError, param } from "./operation.ts";
import { planTimeoutMs } from "./timeout.ts";
import { runningPid, serversWith } from "./process.ts";
import { stepDownMember } from "./step_down.ts";
import type { Executor } from "../executor/executor.ts";
import { shutdownWaitSecs, STOP_TIMEOUT_MS } from "../plan/stop_timing.ts";

/**
 * shutdown command, then SIGTERM, then SIGKILL, each given time to work; then up to 30 s for the
 * process's port to be free again. Params: `pid_file`; `config`, the configuration file the
 * process was started with (a PID whose command line does not name it is not this process);
 * `step_down_first` (a replica set's name), on a rolling restart's stops: should the member be
 * primary when its stop comes (the primary stepped down before took it back once its step-down
 * period ended, e.g. while the plan was paused; or a member planned as a secondary won an
 * election since), it is stepped down (stepDownMember) before it is stopped, never stopped as
 * the primary.
 */
export const stopProcess: Operation = {
  async isDone(ctx) {
    const ex = ctx.executors.forHost(ctx.op.target.host!);
    const config = ctx.op.target.params.config;
    const stopped = (await runningPid(ex, param(ctx, "pid_file"), config, ctx.op.target.port)) ===
        undefined && !(config && (await serversWith(ex, config)).length);
    // A restart's process was planned running: found stopped at its stop's first try (not a
    // resume after this stop ran), it had exited since, which the operator should hear.
    return stopped && !ctx.executions && restarts(ctx) ? { notice: NOT_RUNNING } : stopped;
  },
  async run(ctx) {
    const ex = ctx.executors.forHost(ctx.op.target.host!);
    // Only a process started with this configuration (plans made before `config` was recorded
    // stop whatever lives at the pid file's PID, as they did).
    const pid = await runningPid(
      ex,
      param(ctx, "pid_file"),
      ctx.op.target.params.config,
      ctx.op.target.port,
    );
    if (!pid) {
      const starting = await stopStarting(ctx);
      if (starting) return starting;
      return {
        output: "not running",
        inPlace: true,
        ...(!ctx.executions && restarts(ctx) ? { notice: NOT_RUNNING } : {}),
      };
    }
    const again = await primaryAgain(ctx);
    const timeout = planTimeoutMs(ctx, STOP_TIMEOUT_MS);
    const gone = (ms: number) => allGone(ex, [pid], ms);
    const force = ctx.op.target.params.force === "true";
    const mongos = ctx.op.target.name.startsWith("mongos-");
    const timeoutSecs = force
      ? 0
      : ctx.op.target.quiesce_secs ?? (mongos ? 0 : shutdownWaitSecs(timeout));
    // A server that answers with an error (e.g. an arbiter, which holds no users to log in
    // with, 18) will not shut down by itself: SIGTERM at once rather than after waiting. A
    // connection closed without an answer is what a shutdown that began looks like.
    const refused = await mongo(ctx).adminCommand(ctx.op.target.host!, ctx.op.target.port!, {
      shutdown: 1,
      force,
      // A primary first waits up to timeoutSecs for a secondary to catch up and take over, even
      // with force (MongoDB's stepDownForShutdown; force only ignores that the wait failed).
      // Forced stops are planned where no secondary is left to take over (the last member of a
      // set stopping whole) or asked for (--force): waiting would only delay them. A mongos, a
      // secondary, and a primary once stepped down spend timeoutSecs in their quiesce period
      // (5.0+): the plan's `quiesce_secs` where it gives one.
      timeoutSecs,
    }, timeout / 3).then(
      () => false,
      // One on a certificate the cluster's CA did not sign is never asked: SIGTERM at once.
      (e) => typeof (e as { code?: unknown }).code === "number" || e instanceof TlsUntrustedError,
    );
    const how = await (async () => {
      // A primary's catch-up wait and then its quiesce period may each take timeoutSecs.
      if (!refused && await gone(timeout / 3 + 2 * timeoutSecs * 1000)) return "with shutdown";
      await ex.signal(pid, "SIGTERM");
      if (await gone(timeout / 3)) return "with SIGTERM";
      await ex.signal(pid, "SIGKILL");
      if (await gone(5000)) return "with SIGKILL";
      throw new OperationError(`pid ${pid} on ${ctx.op.target.host} survived SIGKILL`);
    })();
    // The kernel may hold the port a moment longer (connections closing, e.g. of a client that
    // died mid-command): a start right after must find it free, as a restart does.
    const port = ctx.op.target.port;
    const freed = port === undefined ||
      await poll(async () => (await ex.portFree(port)) ? true : undefined, 30_000, 100, ctx.signal);
    const secs = Math.round(timeout / 3000);
    return {
      output: `${again}stopped pid ${pid} ${how}${freed ? "" : `; port ${port} still busy`}`,
      // What an operator wants to see: the plan met a primary where it stopped a stepped-down one.
      ...(again && how !== "with SIGKILL" ? { notice: again.replace(/; then $/, "") } : {}),
      ...(how === "with SIGKILL"
        ? {
          notice: `pid ${pid} did not stop on the shutdown command nor on SIGTERM within ` +
            `${secs * 2} s: it was killed with SIGKILL (an unclean shutdown${
              ctx.op.target.params.data_removed === "true"
                ? "; its data is being removed"
                // A mongos keeps no data, so no journal to recover from (tester61).
                : ctx.op.target.name.startsWith("mongos-")
                ? ": a mongos keeps no data, and starts as before"
                : ": mongod recovers from its journal at the next start"
            }; see its log for why it hung)`,
        }
        : {}),
    };
  },
};

/**
 * With `step_down_first`: steps the target down when it is the primary (again) and says so, as
 * the start of the stop's output; "" otherwise. Throws OperationError when the step-down fails
 * (nothing is stopped then).
 */
async function primaryAgain(ctx: OperationContext): Promise<string> {
  const set = ctx.op.target.params.step_down_first;
  if (!set) return "";
  const h = await mongo(ctx).hello(ctx.op.target.host!, ctx.op.target.port!);
  if (!h?.isWritablePrimary) return "";
  const done = await stepDownMember({
    ...ctx,
    op: { ...ctx.op, target: { ...ctx.op.target, params: { replica_set: set } } },
  });
  return `primary of ${set} when its stop came (the primary moved since the plan was made, or ` +
    `it took the primary back after its step-down): ${done}; then `;
}

/**
 * A server of this configuration that is still starting (started by hand, or by a start that
 * mup was killed in), neither in its pid file nor listening yet: left alone, it would come up
 * after a stop that called it stopped. It cannot answer the shutdown command yet, so it gets
 * SIGTERM (mongod's clean shutdown), then SIGKILL. Undefined when none is starting.
 */
async function stopStarting(ctx: OperationContext) {
  const config = ctx.op.target.params.config;
  if (!config) return undefined;
  const ex = ctx.executors.forHost(ctx.op.target.host!);
  const starting = await serversWith(ex, config);
  if (!starting.length) return undefined;
  const pids = starting.map((p) => p.pid);
  const timeout = planTimeoutMs(ctx, STOP_TIMEOUT_MS);
  const gone = (ms: number) => allGone(ex, pids, ms);
  for (const pid of pids) await ex.signal(pid, "SIGTERM").catch(() => {});
  let how = "with SIGTERM";
  if (!(await gone(timeout / 2))) {
    for (const pid of pids) await ex.signal(pid, "SIGKILL").catch(() => {});
    if (!(await gone(5000))) {
      throw new OperationError(
        `pid ${pids.join(", ")} on ${ctx.op.target.host} survived SIGKILL`,
      );
    }
    how = "with SIGKILL";
  }
  const list = `pid ${pids.join(", ")}`;
  return {
    output: `stopped ${list} ${how} while it was still starting`,
    notice: `a start of it was under way (${list}, not yet answering, started outside this ` +
      `apply): it was stopped ${how} before it came up`,
  };
}

/** Whether every one of `pids` has exited within `ms` (polled every 100 ms). */
async function allGone(ex: Executor, pids: number[], ms: number): Promise<boolean> {
  return await poll(
    async () => {
      for (const pid of pids) if (await ex.processAlive(pid)) return undefined;
      return true;
    },
    ms,
    100,
  ) ?? false;
}

/** What a restart's stop says of a process it found not running. */
const NOT_RUNNING = "it was not running when its stop came (its process had exited since the " +
  "plan was made: its log says why); the restart starts it";

/**
 * Whether this stop is a restart's: the plan starts the same process (host, port) again after
 * it. Such a process was planned running, so finding it not running is worth saying.
 */
function restarts(ctx: OperationContext): boolean {
  const { host, port } = ctx.op.target;
  return (ctx.plan.phases ?? []).some((ph) =>
    ph.operations.some((o) =>
      o.type === "start_process" && o.target.host === host && o.target.port === port &&
      o.depends_on.includes(ctx.op.id)
    )
  );
}
