import { isLocalHost } from "../topology/schema.ts";
import { hostKey } from "../topology/hosts.ts";
import { mupHome } from "../util/path.ts";
import type { Executor, ExecutorFactory } from "./executor.ts";
import { LocalExecutor } from "./local.ts";
import { SshExecutor } from "./ssh.ts";
import {
  CONTROL_PERSIST_S,
  controlDirFor,
  DEFAULT_SSH_TIMEOUT_S,
  type SshSettings,
} from "./ssh_settings.ts";

/** SSH settings when no command configured any: ssh's defaults, mup's safety options. */
export function defaultSshSettings(): SshSettings {
  return {
    connectTimeoutS: DEFAULT_SSH_TIMEOUT_S,
    options: [],
    strictHostKeys: false,
    controlDir: controlDirFor(mupHome()),
    controlPersistS: CONTROL_PERSIST_S,
  };
}

/**
 * Whether mup reaches `host` without SSH: a name of the control machine (isLocalHost), except
 * loopback addresses other than 127.0.0.1, which stand for other hosts reached over SSH (so one
 * machine can run sshd on 127.0.0.2 and 127.0.0.3, as the tests do). The one place that decides
 * which executor a host gets.
 */
export function reachedLocally(host: string): boolean {
  if (host === "127.0.0.1") return true;
  return isLocalHost(host) && !/^127\./.test(host.trim());
}

/**
 * The executor a host gets, as a key: its machine (hosts.ts `hostKey`) for hosts reached
 * locally, the host itself for SSH hosts (each reached, and able to fail, on its own).
 */
export function executorKey(host: string): string {
  return reachedLocally(host) ? hostKey(host) : host;
}

/**
 * Hosts reached locally (reachedLocally) get the local executor, one per machine (hosts.ts
 * `hostKey`) whatever names the topology gives it; every other host its own SSH executor.
 */
export class DefaultExecutors implements ExecutorFactory {
  private readonly cache = new Map<string, Executor>();
  private settings: SshSettings = defaultSshSettings();
  private ports = new Map<string, number>();

  /**
   * SSH settings, and per-host SSH ports (a topology's `ssh_port` on its entries), for every
   * SSH host from now on. Commands call this once their flags and topology are known; an SSH
   * executor made before (with other settings) is closed and dropped, so that no host goes on
   * being reached with settings the command did not give.
   */
  configureSsh(settings: SshSettings, hostPorts: Map<string, number> = new Map()): void {
    this.settings = settings;
    this.ports = hostPorts;
    for (const [key, e] of this.cache) {
      if (!(e instanceof SshExecutor) || e.reaches(settings, hostPorts.get(key) ?? settings.port)) {
        continue;
      }
      this.cache.delete(key);
      e.close().catch(() => {});
    }
  }

  forHost(host: string): Executor {
    const key = executorKey(host);
    let e = this.cache.get(key);
    if (!e) {
      e = reachedLocally(host)
        ? new LocalExecutor(host)
        : new SshExecutor(host, this.settings, this.ports.get(host) ?? this.settings.port);
      this.cache.set(key, e);
    }
    return e;
  }

  /** Closes every SSH master this process opened. */
  async close(): Promise<void> {
    await Promise.all([...this.cache.values()].map((e) => e.close?.()));
    await Deno.remove(this.settings.controlDir, { recursive: true }).catch(() => {});
  }
}
