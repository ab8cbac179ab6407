/**
 * What mup says when a second Ctrl-C (or SIGTERM) stops an apply at once: the processes the plan
 * left down or was starting, on stderr, or under `--json` an error document naming them.
 */
import type { StoppedAtOnce } from "../apply/control.ts";
import type { Plan } from "../plan/schema.ts";
import { printJsonError } from "./context.ts";

/**
 * Prints the stop-at-once report of an apply of `plan` (`stateId` once the apply has one).
 * `left.down`: processes the plan stopped whose start has not run; `left.starting`: those whose
 * start was cut off; `left.stopping`: those whose stop was cut off (the start not yet run).
 */
export function reportStoppedAtOnce(
  plan: Plan,
  left: StoppedAtOnce,
  json: boolean,
  stateId: string | undefined,
): void {
  const { down, starting, stopping } = left;
  const one = (xs: string[], a: string, b: string) => xs.length === 1 ? a : b;
  // As a failure says it (apply_plain.ts): what the plan stopped and has not started again;
  // a start cut off may still bring its server up by itself, so it is not called down.
  const downNote = [
    ...(down.length
      ? [
        `Down now: ${down.join(", ")} (this ${plan.operation} stopped ${one(down, "it", "them")}; ${
          one(down, "its start has", "their starts have")
        } not run; the resume starts ` +
        `${one(down, "it", "them")})`,
      ]
      : []),
    ...(starting.length
      ? [
        `Start cut off: ${starting.join(", ")} (this ${plan.operation} stopped ${
          one(starting, "it", "them")
        } and was starting ${one(starting, "it", "them")}: ${
          one(
            starting,
            "it may come up by itself or stay down",
            "they may come up by themselves or stay down",
          )
        }; the resume checks and starts ${one(starting, "it", "them")} if needed)`,
      ]
      : []),
    ...(stopping.length
      ? [
        `Stop cut off: ${stopping.join(", ")} (this ${plan.operation} was stopping ${
          one(stopping, "it", "them")
        }: ${
          one(
            stopping,
            "it may be down now or still stopping",
            "they may be down now or still stopping",
          )
        }; the resume finishes the stop and starts ${one(stopping, "it", "them")})`,
      ]
      : []),
  ].join("\n") || undefined;
  if (downNote && !json) console.error(downNote);
  if (json) {
    printJsonError({
      type: "error",
      error: "interrupted twice: stopped at once",
      hint: "the apply is saved as paused: `mup plan resume " + plan.cluster_name + "`" +
        (downNote ? `. ${downNote.replaceAll("\n", ". ")}` : ""),
      interrupted: true,
      plan_id: plan.plan_id,
      ...(stateId ? { state_id: stateId } : {}),
      ...(down.length ? { left_down: down } : {}),
      ...(starting.length ? { start_cut_off: starting } : {}),
      ...(stopping.length ? { stop_cut_off: stopping } : {}),
    });
  }
}
