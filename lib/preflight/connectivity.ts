import PQueue from "p-queue";
import { MupError } from "../errors.ts";
import type { ExecutorFactory } from "../executor/executor.ts";
import type { CheckResult } from "../plan/schema.ts";
import type { Topology } from "../topology/schema.ts";

/**
 * Reaches every host that has a connection to open (SSH hosts), at most `concurrency` at once,
 * before an apply starts: a host that went away since the plan was made stops the apply before
 * any operation runs. Throws MupError naming each unreachable host and why.
 */
export async function requireConnectivity(
  executors: ExecutorFactory,
  hosts: string[],
  concurrency = 16,
  /** What to run once they answer: "apply again", or a resume's own command (tester74). */
  again = "apply again",
): Promise<void> {
  const queue = new PQueue({ concurrency });
  const failures: string[] = [];
  await Promise.all(hosts.map((h) =>
    queue.add(async () => {
      const ex = executors.forHost(h);
      if (!ex.probe) return;
      try {
        await ex.probe();
      } catch (e) {
        failures.push((e as Error).message);
      }
    })
  ));
  if (failures.length) {
    throw new MupError(
      `cannot reach ${failures.length} of ${hosts.length} host${
        hosts.length === 1 ? "" : "s"
      }; nothing was applied:\n${failures.map((f) => `  • ${f}`).join("\n")}`,
      { hint: `bring the hosts back (or fix the SSH settings), then ${again}` },
    );
  }
}

/**
 * A saved destroy's or scale-in's `--host-gone` hosts must still be out of reach when it is
 * applied: one that answers again may run the processes the plan forgets (a member the set would
 * lose with its mongod still running, data left behind unnamed). Throws MupError naming those
 * that answer, with the command that plans again (`replan`), before anything runs.
 */
export async function requireStillGone(
  executors: ExecutorFactory,
  hosts: string[],
  replan: string,
  planId: string,
): Promise<void> {
  const back: string[] = [];
  await Promise.all(hosts.map(async (h) => {
    const ex = executors.forHost(h);
    if (!ex.probe) return back.push(h); // reached locally: never gone
    try {
      await ex.probe();
      back.push(h);
    } catch {
      // Still gone, as planned.
    }
  }));
  if (back.length) {
    const them = back.length === 1 ? "it" : "them";
    throw new MupError(
      `${back.sort().join(", ")} ${
        back.length === 1 ? "answers" : "answer"
      } over SSH again, but this plan takes ${them} as gone for good (--host-gone) and would ` +
        `forget what ${back.length === 1 ? "it holds" : "they hold"}; nothing was applied`,
      {
        hint: `plan again without --host-gone for ${them} (\`mup ${replan}\`)`,
        details: { check: "gone_hosts_still_gone", plan_id: planId, answering: back },
      },
    );
  }
}

/**
 * Pre-flight's connectivity check: each of `hosts` (one name per machine, each SSH host its own)
 * probed for its SSH round trip, or made to run `true`, through `perHost` (bounded). Returns the
 * check's result and the hosts that could not be reached (`lost`); the message lists those one a
 * line, each under the first topology entry that names it.
 */
export async function connectivityCheck(
  t: Topology,
  hosts: string[],
  executors: ExecutorFactory,
  perHost: <T>(f: (h: string) => Promise<T>) => Promise<T[]>,
): Promise<{ result: Omit<CheckResult, "name" | "duration">; lost: string[] }> {
  const probes = await perHost(async (h) => {
    try {
      const ex = executors.forHost(h);
      if (ex.probe) return { h, rtt: (await ex.probe()).rttMs };
      const r = await ex.run(["true"], { timeoutMs: 10_000 });
      return r.code === 0
        ? { h, rtt: 0 }
        : { h, error: `${h}: ${r.stderr.trim() || `exit ${r.code}`}` };
    } catch (e) {
      return { h, error: (e as Error).message };
    }
  });
  const bad = probes.filter((p) => p.error !== undefined);
  const lost = bad.map((b) => b.h);
  if (bad.length) {
    return {
      lost,
      result: {
        status: "failed",
        // One host a line, each under the first topology entry that names it, indented below
        // the check's own line wherever that is listed (a bullet in the review's Validation).
        message: `cannot reach ${bad.length} of ${hosts.length} host${
          hosts.length === 1 ? "" : "s"
        }:\n${bad.map((b) => `    - ${firstEntry(t, b.h)}: ${b.error}`).join("\n")}`,
        details: { unreachable: lost },
      },
    };
  }
  const rtts = probes.map((p) => p.rtt ?? 0);
  const remote = rtts.filter((r) => r > 0);
  return {
    lost,
    result: {
      status: "passed",
      message: `Connectivity to all hosts (${hosts.length}/${hosts.length})${
        remote.length
          ? `, SSH round trip ${Math.round(Math.min(...remote))}–${
            Math.round(Math.max(...remote))
          } ms`
          : ""
      }`,
      details: { rtt_ms: Object.fromEntries(probes.map((p) => [p.h, Math.round(p.rtt ?? 0)])) },
    },
  };
}

/** The field path of the first topology entry on host `h` ("mongod_servers[2]"). */
function firstEntry(t: Topology, h: string): string {
  for (const field of ["config_servers", "mongod_servers", "mongos_servers"] as const) {
    const i = t[field].findIndex((s) => s.host === h);
    if (i >= 0) return `${field}[${i}]`;
  }
  return h;
}
