import { poll } from "../mongo/client.ts";
import { mongo } from "./cluster_client.ts";
import { hostPort } from "../topology/hosts.ts";
import { type Operation, OperationError } from "./operation.ts";
import { listensOnlyElsewhere, processExited, processState, runningPid } from "./process.ts";
import { repairCommandOfPlan } from "../plan/command_of.ts";
import { planTimeoutMs, resumeStartsIt, timeoutHint, waitedFor } from "./timeout.ts";

/** Waits until the process answers `hello`. */
export const waitForProcess: Operation = {
  async isDone(ctx) {
    return (await mongo(ctx).hello(ctx.op.target.host!, ctx.op.target.port!)) !== undefined;
  },
  async run(ctx) {
    const { host, port } = ctx.op.target;
    const timeout = planTimeoutMs(ctx, 30_000);
    const t0 = Date.now();
    // Once a second, whether the process it waits for has exited: then no answer can come, and
    // the wait ends at once instead of at its timeout.
    let look = t0 + 1000;
    let untrusted: string | undefined;
    const h = await poll(
      async () => {
        const answer = await mongo(ctx).helloOrUntrusted(host!, port!, 5000);
        if (answer.hello) return answer.hello;
        // Its certificate is not the cluster CA's: no answer will come that mup can trust.
        untrusted = answer.untrusted;
        if (untrusted) return null;
        if (Date.now() < look) return undefined;
        look = Date.now() + 1000;
        return await processExited(ctx) ? null : undefined;
      },
      timeout,
      50,
      ctx.signal,
    );
    if (untrusted) {
      const c = ctx.plan.cluster_name;
      throw new OperationError(
        `${hostPort(host!, port!)} speaks TLS with a certificate the cluster's CA (ca.pem in ` +
          `mup's secrets store) did not sign for it (${untrusted}): no wait or resume mends that. ` +
          `\`mup cluster display ${c}\` names it; a repair of the cluster (\`mup cluster deploy ` +
          `${c}\` of its recorded topology, \`mup cluster show-config ${c}\`) signs its ` +
          "certificate again, installs it and restarts the member on it",
      );
    }
    if (!h) {
      const { reason, gone, stopped, elsewhere } = await why(ctx);
      // Waiting longer helps a slow server, not one that is not running at all, nor one
      // stopped (SIGSTOP) until it is let go on, nor one listening on another port.
      const c = ctx.plan.cluster_name;
      const hint = gone
        ? `waiting longer would not help: ${resumeStartsIt(ctx)}`
        : stopped
        ? "waiting longer would not help while it is stopped: once it goes on, `mup plan " +
          `resume ${c}\` waits for it again`
        : elsewhere
        ? `waiting longer would not help: \`mup cluster stop ${c} -N ${
          hostPort(host!, port!)
        }\` ends it; a repair (\`${repairCommandOfPlan(ctx.plan)}\`) writes its ` +
          "configuration file again and starts it"
        : timeoutHint(ctx, timeout);
      throw new OperationError(
        h === null && gone
          ? `${hostPort(host!, port!)} exited after ${
            Math.round((Date.now() - t0) / 1000)
          }s of waiting for its answer${reason}; ${hint}`
          : `${hostPort(host!, port!)} did not answer ${
            waitedFor(t0, timeout, "within")
          }${reason}; ${hint}`,
      );
    }
    return { output: `answered after ${Date.now() - t0}ms (maxWireVersion ${h.maxWireVersion})` };
  },
};

/**
 * Whether the process runs at all (`gone`: it does not) and, if it does, where it listens
 * instead, and whether it is stopped on its own port (`stopped`: SIGSTOP); `reason` words it
 * for the error message.
 */
async function why(
  ctx: Parameters<Operation["run"]>[0],
): Promise<{ reason: string; gone: boolean; stopped?: boolean; elsewhere?: boolean }> {
  const { host, port, params } = ctx.op.target;
  // A plan from before pid_file was recorded: nothing to say.
  if (!params.pid_file) return { reason: "", gone: false };
  const ex = ctx.executors.forHost(host!);
  const pid = await runningPid(ex, params.pid_file).catch(() => undefined);
  if (!pid) {
    return {
      reason: `: its process is not running (no live PID in ${params.pid_file})`,
      gone: true,
    };
  }
  const on = await ex.listening?.(pid).catch(() => undefined);
  // Listening on its own port yet silent is a hung or stopped process, not a bindIp mistake.
  const onItsPort = on?.some((a) => listensFor(a, host!, port!));
  const state = onItsPort ? await processState(ex, pid) : undefined;
  // Another port altogether: its configuration file is not the one planned (edited on the
  // host?); no wait mends that (tester61).
  const elsewhere = listensOnlyElsewhere(on, port!);
  const where = !on
    ? ""
    : `at ${hostPort(host!, port!)}; ${
      onItsPort
        ? state?.startsWith("T")
          ? `it listens on ${on.join(", ")} but is stopped (process state ${state}: ` +
            `SIGSTOP or a debugger; \`kill -CONT ${pid}\` resumes it)`
          : `it listens on ${on.join(", ")} but does not answer: it is busy or hung (see its log)`
        : on.length
        ? `it listens on ${on.join(", ")}${
          elsewhere
            ? `, not on port ${port}: its configuration file names another net.port (changed ` +
              "on the host?)"
            : " (check net.bindIp)"
        }`
        : "it listens on no TCP address yet"
    }`;
  return {
    reason: `: its process runs (PID ${pid}) but does not answer${where ? ` ${where}` : ""}`,
    gone: false,
    stopped: !!state?.startsWith("T"),
    elsewhere,
  };
}

/**
 * Whether a listening address (`127.0.0.1:27017`, `[::]:27017`) serves `host:port`: the port,
 * on a wildcard address, on the host's own literal address, or on loopback for localhost.
 */
function listensFor(address: string, host: string, port: number): boolean {
  const m = /^\[?(.*?)\]?:(\d+)$/.exec(address);
  if (!m || Number(m[2]) !== port) return false;
  const ip = m[1];
  const bare = host.replace(/^\[|\]$/g, "");
  return ip === "0.0.0.0" || ip === "::" || ip === bare ||
    (bare === "localhost" && (ip === "127.0.0.1" || ip === "::1"));
}
