import { isLocalHost } from "../topology/schema.ts";
import { hostKey } from "../topology/hosts.ts";
import { MupError } from "../errors.ts";
import type { Executor, ExecutorFactory } from "./executor.ts";
import { LocalExecutor } from "./local.ts";

/**
 * Local hosts get the local executor; remote hosts need SSH (a later issue). One executor per
 * machine (hosts.ts `hostKey`), whatever names the topology gives it.
 */
export class DefaultExecutors implements ExecutorFactory {
  private readonly cache = new Map<string, Executor>();

  forHost(host: string): Executor {
    const machine = hostKey(host);
    let e = this.cache.get(machine);
    if (!e) {
      if (!isLocalHost(host)) {
        throw new MupError(`host ${host} is remote, and this mup cannot reach remote hosts yet`, {
          hint: "deploy on localhost / 127.0.0.1, or wait for SSH support",
        });
      }
      e = new LocalExecutor(host);
      this.cache.set(machine, e);
    }
    return e;
  }
}
