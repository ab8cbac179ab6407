import * as path from "node:path";
import { type Operation, OperationError, param } from "./operation.ts";
import { earlierStart, runningPid } from "./process.ts";
import { hostPort } from "../topology/hosts.ts";
import { planTimeoutMs, timeoutHint } from "./timeout.ts";
import { replanCommand } from "../plan/command_of.ts";
import type { Plan } from "../plan/schema.ts";

/** Starts mongod/mongos from its configuration file (which sets fork and the pid file). */
export const startProcess: Operation = {
  async isDone(ctx) {
    const ex = ctx.executors.forHost(ctx.op.target.host!);
    return (await runningPid(
      ex,
      param(ctx, "pid_file"),
      param(ctx, "config"),
      ctx.op.target.port,
    )) !== undefined;
  },
  async run(ctx) {
    const ex = ctx.executors.forHost(ctx.op.target.host!);
    const timeout = planTimeoutMs(ctx, 120_000);
    const where = hostPort(ctx.op.target.host!, ctx.op.target.port!);
    // A second server on the same files would fail on the data directory's lock, or worse:
    // an apply killed mid-start left this start under way, so it is awaited instead.
    const earlier = await earlierStart(
      ex,
      param(ctx, "pid_file"),
      param(ctx, "config"),
      ctx.op.target.port,
      timeout,
    );
    // Started by an earlier apply killed mid-start, or by hand: this run started nothing (a
    // rollback of an earlier apply's start still counts that apply's run).
    if (earlier && "pid" in earlier) {
      return {
        output: `a start of it was already under way (PID ${earlier.pid}): awaited until it ran`,
        metadata: { pid: earlier.pid },
        inPlace: true,
      };
    }
    if (earlier) {
      throw new OperationError(
        `a start of ${where} is already under way and did not finish within ${timeout / 1000}s: ${
          earlier.starting.map((p) => `PID ${p.pid} (${p.command})`).join(", ")
        }; wait for ` +
          `it or stop it, then resume; ${timeoutHint(ctx, timeout)}`,
      );
    }
    const t0 = Date.now();
    const r = await ex.run([param(ctx, "binary"), "-f", param(ctx, "config")], {
      timeoutMs: timeout,
    });
    if (r.code !== 0 && Date.now() - t0 >= timeout) {
      throw new OperationError(
        `${path.basename(param(ctx, "binary"))} on ${where} did not finish starting within ${
          timeout / 1000
        }s; ${timeoutHint(ctx, timeout)}`,
      );
    }
    if (r.code !== 0) {
      // An earlier apply stopped at once (second Ctrl-C) may have left this very server still
      // starting, which then took the port first: it is the one the plan wants.
      const pid = await runningPid(
        ex,
        param(ctx, "pid_file"),
        param(ctx, "config"),
        ctx.op.target.port,
      );
      if (pid) return { output: `already running (PID ${pid})`, metadata: { pid }, inPlace: true };
      const log = ctx.op.target.params.log;
      const tail = log ? await ex.readFile(log).then((b) => lastLogError(b), () => "") : "";
      const replan = refusedConfigReplan(ctx.plan, r.code);
      throw new OperationError(
        `${path.basename(param(ctx, "binary"))} on ${where} exited with code ${r.code}: ${
          tail || lastError(r.stdout + "\n" + r.stderr)
        }${log ? ` (log: ${log})` : ""}${
          replan
            ? `. The server refused its configuration (exit code 2: an option or a value mongod ` +
              `does not accept), and a resume would start it on the same file: ${replan}`
            : ""
        }`,
        { replan },
      );
    }
    const pid = await runningPid(ex, param(ctx, "pid_file"));
    return { output: r.stdout.trim(), metadata: { pid } };
  },
};

/**
 * What finishes a deploy or a reconfigure whose mongod refused the configuration it wrote (exit
 * code 2, BadValue: an option or a value it does not accept): a resume would start it on the
 * same file, so runtime_config is fixed and the plan made again. Undefined otherwise.
 */
function refusedConfigReplan(plan: Plan, code: number): string | undefined {
  if (code !== 2 || !["deploy", "reconfigure"].includes(plan.operation)) return undefined;
  const file = plan.topology_file ?? "the topology";
  return plan.operation === "reconfigure"
    ? `fix runtime_config in ${file} and reconfigure again: \`mup ${replanCommand(plan)}\` ` +
      "(it writes every configuration again, starts what is down, then restarts the rest)"
    : `fix runtime_config in ${file} and plan again: \`mup ${replanCommand(plan)}\` (the new ` +
      "plan re-checks what is already in place)";
}

function lastError(out: string): string {
  const lines = out.split("\n").map((l) => l.trim()).filter(Boolean);
  return lines.filter((l) => !/^(about to fork|forked process)/.test(l)).join(" / ") || "no output";
}

/** The last error line of a mongod JSON log, as "msg: error". */
function lastLogError(bytes: Uint8Array | undefined): string {
  if (!bytes) return "";
  const lines = new TextDecoder().decode(bytes).trim().split("\n").reverse();
  for (const l of lines) {
    try {
      const j = JSON.parse(l);
      if (j.s === "E" || j.s === "F") {
        return `${j.msg}: ${
          typeof j.attr?.error === "string" ? j.attr.error : JSON.stringify(j.attr?.error ?? j.attr)
        }`;
      }
    } catch {
      // Not a JSON line.
    }
  }
  return "";
}
