import { isLocalHost } from "../topology/schema.ts";
import { MupError } from "../errors.ts";
import type { Executor, ExecutorFactory } from "./executor.ts";
import { LocalExecutor } from "./local.ts";

/** Local hosts get the local executor; remote hosts need SSH (a later issue). */
export class DefaultExecutors implements ExecutorFactory {
  private readonly cache = new Map<string, Executor>();

  forHost(host: string): Executor {
    let e = this.cache.get(host);
    if (!e) {
      if (!isLocalHost(host)) {
        throw new MupError(`host ${host} is remote, and this mup cannot reach remote hosts yet`, {
          hint: "deploy on localhost / 127.0.0.1, or wait for SSH support",
        });
      }
      e = new LocalExecutor(host);
      this.cache.set(host, e);
    }
    return e;
  }
}
