/**
 * Live facts about a cluster's recorded processes, for the lifecycle planners: whether each runs
 * (its pid file, then hello), what it is in its set, whether it is hung or stopped, and its
 * member options as its set holds them; where SSH cannot reach its host, what its server says
 * for itself. Each question bounded by a timeout.
 */
import type { Document } from "mongodb";
import type { ExecutorFactory } from "../executor/executor.ts";
import { clusterAccess } from "../security/access.ts";
import { processState, runningPid, serversWith } from "../ops/process.ts";
import type { ClusterMeta } from "../state/meta.ts";
import type { ProcessFact } from "../plan/lifecycle.ts";
import { liveMemberOptions } from "./member_options.ts";

/** A member's replica-set state as its hello says it (PRIMARY, SECONDARY, ARBITER), if any. */
function memberState(h: Document | undefined): string | undefined {
  return h?.isWritablePrimary && h.setName
    ? "PRIMARY"
    : h?.secondary
    ? "SECONDARY"
    : h?.arbiterOnly
    ? "ARBITER"
    : undefined;
}

/** How long the server of a process whose host SSH cannot reach has to answer. */
const SERVER_ONLY_TIMEOUT_MS = 5_000;

/**
 * What a process whose host SSH cannot reach says for itself: hello answered (it runs, in that
 * state), or its port refused the connection (nothing listens: down); else nothing is known.
 * Its facts keep `unreachable` either way: nothing can be done on that host.
 */
async function askServerOnly(
  access: ReturnType<typeof clusterAccess>,
  host: string,
  port: number,
  unreachable: string,
): Promise<ProcessFact> {
  const answer = await access.helloOrUntrusted(host, port, SERVER_ONLY_TIMEOUT_MS);
  const h = answer.hello;
  if (h) {
    const state = memberState(h);
    return { running: true, unreachable, answering: true, ...(state ? { state } : {}) };
  }
  return (await connectionRefused(host, port, SERVER_ONLY_TIMEOUT_MS))
    ? { running: false, unreachable, refused: true }
    : { running: false, unreachable };
}

/** Whether `host:port` refuses a TCP connection (nothing listens), within `timeoutMs`. */
async function connectionRefused(host: string, port: number, timeoutMs: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const conn = await Promise.race([
      Deno.connect({ hostname: host, port }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("timeout")), timeoutMs);
      }),
    ]);
    conn.close();
    return false;
  } catch (e) {
    return e instanceof Deno.errors.ConnectionRefused;
  } finally {
    clearTimeout(timer);
  }
}

/** Live facts about every recorded process, asked all at once. */
export async function probeFacts(
  meta: ClusterMeta,
  executors: ExecutorFactory,
): Promise<Record<string, ProcessFact>> {
  const access = clusterAccess(meta.name, meta.topology, executors);
  const facts = await Promise.all(meta.processes.map(async (p) => {
    let unreachable: string | undefined;
    const pid = await runningPid(executors.forHost(p.host), p.pid_file, p.config, p.port)
      .catch((e) => {
        unreachable = (e as Error).message.split("\n")[0];
        return undefined;
      });
    // Over SSH nothing can be asked; the server itself may still say whether it runs.
    if (unreachable) {
      return [p.id, await askServerOnly(access, p.host, p.port, unreachable)] as const;
    }
    const starting = pid === undefined &&
      (await serversWith(executors.forHost(p.host), p.config).catch(() => [])).length > 0;
    const answer = pid ? await access.helloOrUntrusted(p.host, p.port) : {};
    const h = answer.hello;
    // Silent: stopped (SIGSTOP) is told apart from hung, as display does.
    const stat = pid !== undefined && !h && !answer.untrusted
      ? await processState(executors.forHost(p.host), pid)
      : undefined;
    const state = memberState(h);
    return [p.id, {
      running: pid !== undefined,
      ...(starting ? { starting } : {}),
      ...(state ? { state } : {}),
      ...(pid !== undefined ? { answering: h !== undefined } : {}),
      ...(answer.untrusted ? { untrusted: answer.untrusted } : {}),
      ...(stat?.startsWith("T") ? { stopped: { pid: pid!, stat } } : {}),
    }] as const;
  }));
  const out: Record<string, ProcessFact> = Object.fromEntries(facts);
  await liveMemberOptions(meta, out, access);
  return out;
}
