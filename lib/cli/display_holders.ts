/**
 * What cluster display finds out about its processes beyond their answers: who holds the port
 * of one that does not answer, and the PID of one that answers without saying it.
 */
import { describeHolder } from "../preflight/ports.ts";
import { listensOnlyElsewhere, processState, runningPid, serversWith } from "../ops/process.ts";
import type { ProcessStatus } from "../probe/live.ts";
import type { ClusterMeta } from "../state/meta.ts";
import type { CliContext } from "./context.ts";
import { repairCommand } from "../plan/recorded.ts";

/**
 * A DOWN process whose port accepted the connection: whatever holds the port (this machine's
 * /proc, or over SSH) is named in its reason. When that is the process's own server (its
 * configuration file in the command line), it runs but does not answer: stopped (SIGSTOP,
 * process state T: `kill -CONT` resumes it) or hung, and `cluster stop -N` ends it. One that refuses it while a server of its
 * configuration runs is starting: STARTUP.
 */
export async function nameHolders(
  ctx: CliContext,
  meta: ClusterMeta,
  rows: ProcessStatus[],
  /**
   * mup cannot ask the members (its CA or admin credentials are gone from the store, or the CA
   * is not its key's): a silent server of its own is UNKNOWN, with its PID, and said so, with no
   * stop/start advice.
   */
  cannotAsk = false,
): Promise<void> {
  const configOf = new Map(meta.processes.map((p) => [p.id, p.config]));
  await Promise.all(rows.map(async (r) => {
    if (r.state !== "DOWN") return;
    if (r.reason === "connection refused") {
      // Refused, yet a server of its configuration runs: one still starting (started by hand).
      const config = configOf.get(r.process_id);
      const starting = config
        ? await serversWith(ctx.executors.forHost(r.host), config).catch(() => [])
        : [];
      if (starting.length) {
        const ex = ctx.executors.forHost(r.host);
        const on = (await Promise.all(
          starting.map((s) => ex.listening?.(s.pid).catch(() => undefined)),
        )).flatMap((a) => a ?? []);
        if (listensOnlyElsewhere(on, r.port)) {
          // It runs, on another port: its file was changed on the host (tester61).
          r.state = "UNKNOWN";
          r.pid = starting[0].pid;
          r.reason = `${r.reason}; its own server (PID ${
            starting.map((s) => s.pid).join(", ")
          }) runs, listening on ${on.join(", ")}, not on port ${r.port}: its configuration ` +
            `file names another port (changed on the host?). \`mup cluster stop ${meta.name} ` +
            `-N ${r.id}\` ends it; a repair (\`${repairCommand(meta)}\`) writes the file again`;
          return;
        }
        // MongoDB's name for a member not yet up (replSetGetStatus stateStr): it is not down.
        r.state = "STARTUP";
        r.reason = `${r.reason}; its own server (PID ${
          starting.map((s) => s.pid).join(", ")
        }) is starting: it does not listen yet`;
      }
      return;
    }
    const ex = ctx.executors.forHost(r.host);
    const holder = await ex.portHolder?.(r.port).catch(() => undefined);
    if (!holder) return;
    const config = configOf.get(r.process_id);
    if (!config || !holder.command?.includes(config)) {
      r.reason = `${r.reason}; port ${r.port} is held by ${describeHolder(holder)}`;
      return;
    }
    if (cannotAsk) {
      // Its own server runs: not DOWN, but what state it is in mup cannot ask (as with the
      // admin credentials refused).
      r.state = "UNKNOWN";
      r.pid = holder.pid;
      // A certificate refused against a CA that is not the cluster's says nothing of it.
      if (r.tls_untrusted) r.reason = "its TLS certificate cannot be checked (see below)";
      r.reason = `${r.reason}; its own server (PID ${holder.pid}) holds port ${r.port}, and ` +
        "mup cannot ask it while its store's CA or admin credentials are missing or replaced " +
        "(see below): no stop or start mends that";
      return;
    }
    // It answered the TLS handshake with a certificate the cluster's CA did not sign: it is
    // neither hung nor mended by a restart.
    if (r.tls_untrusted) {
      r.reason = `${r.reason}; its own server (PID ${holder.pid}) holds port ${r.port} and ` +
        "speaks TLS, but its certificate is not one the cluster's CA (ca.pem in mup's secrets " +
        "store) signed for it: no wait or restart on it mends that. A repair (`" +
        repairCommand(meta) + "`) signs it again, installs it and restarts the member on it";
      return;
    }
    // Stopped (SIGSTOP, a debugger: state T) goes on as it was with SIGCONT; hung does not.
    const stat = await processState(ex, holder.pid);
    r.reason = `${r.reason}; its own server (PID ${holder.pid}) holds port ${r.port} but does ` +
      (stat?.startsWith("T")
        ? `not answer: it is stopped (process state ${stat}; \`kill -CONT ${holder.pid}\` on ` +
          `${r.host} resumes it), or \`mup cluster stop ${meta.name} -N ${r.id}\` ends it`
        : `not answer (hung or busy: see its log): \`mup cluster stop ${meta.name} -N ${r.id}\` ` +
          `ends it, then \`mup cluster start ${meta.name} -N ${r.id}\``);
  }));
}

/**
 * The PID of each process that answers but would not say it (serverStatus needs a user, and an
 * arbiter has none): read from its pid file, as the lifecycle commands do.
 */
export async function fillPids(
  ctx: CliContext,
  meta: ClusterMeta,
  rows: ProcessStatus[],
): Promise<void> {
  await Promise.all(rows.map(async (r) => {
    const p = meta.processes.find((x) => x.id === r.process_id);
    if (r.pid !== undefined || r.state === "DOWN" || !p) return;
    const pid = await runningPid(ctx.executors.forHost(p.host), p.pid_file, p.config, p.port)
      .catch(() => undefined);
    if (pid !== undefined) r.pid = pid;
  }));
}
