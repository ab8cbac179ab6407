import { insideStore } from "../util/ident.ts";
import { mupHome } from "../util/path.ts";
import type { ExecutorFactory } from "../executor/executor.ts";
import type { Plan, PlannedOperation, SafetyCheck } from "../plan/schema.ts";
import type { Change } from "../plan/schema.ts";

/** Everything an operation may use. Passed explicitly; operations never print. */
export interface OperationContext {
  op: PlannedOperation;
  plan: Plan;
  /** The apply this operation belongs to. */
  stateId: string;
  executors: ExecutorFactory;
  signal: AbortSignal;
  /**
   * The first Ctrl-C (the apply is to pause once running operations finish): an operation that
   * only waits for servers to finish work they go on with by themselves (a shard's draining)
   * may stop waiting then, throwing an OperationError with `stoppedWaiting`; a resume waits
   * again.
   */
  pause?: AbortSignal;
  /** Progress for long work (downloads): 0..1 and a short note. */
  progress(fraction: number, note: string): void;
  /** A line for the execution log. */
  log(message: string): void;
  /**
   * How many times this operation's run() began before, in this apply and the runs it resumed
   * (0 on its first try): a resume after a crash may find the operation's own effect in place.
   */
  executions?: number;
}

export interface OperationOutcome {
  output?: string;
  /**
   * What the operator should see although the operation succeeded (e.g. a process that had to
   * be killed with SIGKILL): renderers show it with the operation, --json carries it.
   */
  notice?: string;
  /**
   * What the operation changed, when not what it planned (`op.changes`): a directory kept
   * because it was not empty changed nothing ([]).
   */
  changes?: Change[];
  metadata?: Record<string, unknown>;
  /**
   * run() found the effect already in place once it could look (a replica set found initiated
   * once its members answered, which isDone could not yet see): nothing changed, and the apply
   * records and shows it as isDone's "already in place", with `output` saying what was found.
   */
  inPlace?: boolean;
}

/**
 * One operation type. `isDone` looks at the world (never at recorded state) and says whether
 * the effect is already in place, so a resume never repeats work.
 */
export interface Operation {
  /**
   * Whether the operation's effect is in place already (then run() is not called); `{ notice }`
   * when it is, and the operator should hear why (OperationOutcome.notice).
   */
  isDone(ctx: OperationContext): Promise<boolean | { notice: string }>;
  run(ctx: OperationContext): Promise<OperationOutcome>;
}

/**
 * An operation's failure. `noEffect`: it failed before changing anything (the server refused the
 * command), so a rollback has nothing of it to undo or to warn about.
 */
export class OperationError extends Error {
  constructor(
    message: string,
    readonly options: {
      noEffect?: boolean;
      /** It stopped waiting at the first Ctrl-C (`pause`): unfinished, not failed. */
      stoppedWaiting?: boolean;
      /**
       * What finishes the work when a resume alone cannot (a set without a majority: a start
       * of what is down, which replaces this apply, then the plan made again): shown instead
       * of the resume.
       */
      replan?: string;
    } = {},
  ) {
    super(message);
  }
}

/**
 * A path parameter that must lie in mup's own store ($MUP_HOME: staging files, metadata, the
 * download cache): a plan is untrusted input, so the path is proven inside before it is used.
 */
export function storeParam(ctx: OperationContext, name: string): string {
  return insideStore(mupHome(), param(ctx, name));
}

export function param(ctx: OperationContext, name: string): string {
  const v = ctx.op.target.params[name];
  if (v === undefined) throw new OperationError(`operation ${ctx.op.id} lacks parameter "${name}"`);
  return v;
}

/**
 * An executor factory that stands in for the whole world, not just for hosts (the specification's
 * MockExecutor, "simulate apply without side effects"): the applier takes each operation's
 * implementation and each safety check's outcome from it instead of the real ones, so that an
 * apply touches nothing but its state folder.
 */
export interface WorldSimulator {
  readonly simulatesWorld: true;
  /** The implementation to use for `op` in place of `real`. */
  operation(op: PlannedOperation, real: Operation): Operation;
  /** The outcome of a safety check in the simulated world. */
  check(check: SafetyCheck): Promise<{ ok: boolean; status: string }>;
}

/** The simulator behind an executor factory, when it is one. */
export function worldSimulator(ex: ExecutorFactory): WorldSimulator | undefined {
  return (ex as Partial<WorldSimulator>).simulatesWorld
    ? ex as unknown as WorldSimulator
    : undefined;
}
