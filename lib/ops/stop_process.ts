import { adminCommand, poll } from "../mongo/client.ts";
import { type Operation, OperationError, param } from "./operation.ts";
import { planTimeoutMs } from "./timeout.ts";
import { runningPid } from "./process.ts";

/** shutdown command, then SIGTERM, then SIGKILL, each given time to work. */
export const stopProcess: Operation = {
  async isDone(ctx) {
    return (await runningPid(
      ctx.executors.forHost(ctx.op.target.host!),
      param(ctx, "pid_file"),
    )) === undefined;
  },
  async run(ctx) {
    const ex = ctx.executors.forHost(ctx.op.target.host!);
    const pid = await runningPid(ex, param(ctx, "pid_file"));
    if (!pid) return { output: "not running" };
    const timeout = planTimeoutMs(ctx, 30_000);
    const gone = async (ms: number) =>
      await poll(async () => (await ex.processAlive(pid)) ? undefined : true, ms, 100) ?? false;
    await adminCommand(ctx.op.target.host!, ctx.op.target.port!, {
      shutdown: 1,
      force: ctx.op.target.params.force === "true",
      timeoutSecs: Math.ceil(timeout / 3000),
    }, timeout / 3).catch(() => {});
    if (await gone(timeout / 3)) return { output: `stopped pid ${pid} with shutdown` };
    await ex.signal(pid, "SIGTERM");
    if (await gone(timeout / 3)) return { output: `stopped pid ${pid} with SIGTERM` };
    await ex.signal(pid, "SIGKILL");
    if (await gone(5000)) return { output: `killed pid ${pid}` };
    throw new OperationError(`pid ${pid} on ${ctx.op.target.host} survived SIGKILL`);
  },
};
