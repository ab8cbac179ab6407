import PQueue from "p-queue";
import { MupError } from "../errors.ts";
import type { ExecutorFactory } from "../executor/executor.ts";

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
