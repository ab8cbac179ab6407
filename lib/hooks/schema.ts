import { z } from "zod";
import { Duration, DurationMs } from "../topology/bounds.ts";

export { Duration, durationMs } from "../topology/bounds.ts";

/** The ten lifecycle events of the specification. */
export const HOOK_EVENTS = [
  "before_plan",
  "after_plan",
  "before_apply",
  "after_apply",
  "before_phase",
  "after_phase",
  "before_operation",
  "after_operation",
  "on_error",
  "on_success",
] as const;
export const HookEvent = z.enum(HOOK_EVENTS);
export type HookEvent = z.infer<typeof HookEvent>;

export const DEFAULT_HOOK_TIMEOUT = "5m";

/** A hook as written in a topology file. */
export const HookSpec = z.object({
  name: z.string().optional(),
  command: z.string().min(1, "a hook needs a command"),
  timeout: Duration.optional(),
  environment: z.record(z.string(), z.string()).optional(),
  continue_on_error: z.boolean().optional(),
  /**
   * Phase hooks only: run for this phase alone. Any plan's phase (deploy's prepare, deploy,
   * initialize, finalize; a restart's restart-mongod…): a plan without it says so at planning.
   */
  // Letters of either case: `cluster tls`'s rounds are named by tlsMode (configure-allowTLS).
  phase: z.string().regex(
    /^[a-z][a-zA-Z0-9-]{0,63}$/,
    "must be a phase name: letters, digits and '-', starting with a lower-case letter (prepare, deploy, initialize, finalize, restart-mongod, configure-allowTLS…)",
  ).optional(),
}).strict();
export type HookSpec = z.infer<typeof HookSpec>;

/** A hook as recorded in a plan: defaults filled in, so the plan alone says what runs. */
export const Hook = z.object({
  name: z.string(),
  event: HookEvent,
  command: z.string(),
  timeout_ms: DurationMs,
  environment: z.record(z.string(), z.string()),
  continue_on_error: z.boolean(),
  phase: z.string().optional(),
  /** Directory the hook runs in: the topology file's directory. */
  working_dir: z.string(),
});
export type Hook = z.infer<typeof Hook>;

/** The events that happen within a phase, so that a hook's `phase` can choose among them. */
export const PHASED_EVENTS: readonly HookEvent[] = [
  "before_phase",
  "after_phase",
  "before_operation",
  "after_operation",
  "on_error",
];

/** A hook of an event outside any phase (before_plan…on_success): `phase` would never match. */
const UnphasedHookSpec = HookSpec.extend({
  phase: z.unknown().refine((v) => v === undefined, {
    message: `this event happens outside any phase, so a hook of it with a phase would never ` +
      `run: phase is for ${PHASED_EVENTS.join(", ")} hooks`,
    params: { hint: "remove phase from this hook, or give it to an after_phase hook" },
  }).optional(),
});

export const HooksSection = z.object(
  Object.fromEntries(
    HOOK_EVENTS.map((e) => {
      const spec = PHASED_EVENTS.includes(e) ? HookSpec : UnphasedHookSpec;
      return [e, z.union([spec, z.array(spec)]).optional()];
    }),
  ),
).strict();
export type HooksSection = Partial<Record<HookEvent, HookSpec | HookSpec[]>>;
