/**
 * An OperationContext for calling one operation directly in a test: the operation and the few
 * plan fields it reads (the rest of a Plan is not built), the real executors, no progress or log.
 */
import { DefaultExecutors } from "../lib/executor/factory.ts";
import type { OperationContext } from "../lib/ops/operation.ts";

export function opContext(
  op: Record<string, unknown>,
  plan: Record<string, unknown>,
): OperationContext {
  return {
    op,
    plan,
    stateId: "apply-test",
    executors: new DefaultExecutors(),
    signal: new AbortController().signal,
    progress() {},
    log() {},
  } as unknown as OperationContext;
}
