/**
 * Election handoff: a primary that steps down (replSetStepDown, shutdown) waits for a caught-up
 * electable secondary, steps down and asks it to stand at once (replSetStepUp), so the set has a
 * new primary without waiting out an election timeout, as MongoDB does.
 */
import { errors } from "./errors.ts";
import { type ReplSet, tsGte } from "./replset.ts";

/**
 * Before a shutdown (ReplSet.beforeShutdown, the RoleHooks entry): a primary hands off first.
 * Throws ExceededTimeLimit when no secondary caught up in `timeoutSecs` and `force` is not set.
 */
export async function handOffBeforeShutdown(
  rs: ReplSet,
  force: boolean,
  timeoutSecs: number,
): Promise<void> {
  if (rs.state !== 1) return;
  const others = rs.members().filter((m) => m._id !== rs.self()?._id && rs.electable(m));
  if (others.length === 0) return;
  // The handed-off election needs this member's vote (a two-member set has no majority
  // without it), so the process stays up until the secondary has stood, stepped down for
  // good meanwhile so that it does not stand again itself.
  const outcome = await handOff(rs, Math.max(timeoutSecs, force ? 0 : 1) * 1000, 60_000, true);
  if (outcome !== "none caught up") return;
  if (!force) {
    throw errors.exceededTimeLimit(
      `No electable secondaries caught up as of ${
        new Date().toISOString()
      }. Please use the replSetStepDown command with the argument {force: true} to force node to step down.`,
    );
  }
  rs.stepDown(60_000);
}

/**
 * What a hand-off came to: "handed" (stepped down, the caught-up secondary asked to stand),
 * "none caught up" in time (nothing changed), or "no longer primary" (an election elsewhere
 * took primacy while it waited).
 */
export type HandOff = "handed" | "none caught up" | "no longer primary";

/**
 * Waits up to `catchUpMs` for an electable secondary caught up to this member's newest entry,
 * holding writes back meanwhile so that none lands on this member alone (replSetStepDown
 * "blocks all writes to the primary while it runs", MongoDB manual, replSetStepDown), then
 * steps down for `stepDownMs` and asks the secondary to stand at once.
 */
export async function handOff(
  rs: ReplSet,
  catchUpMs: number,
  stepDownMs: number,
  awaitStepUp = false,
): Promise<HandOff> {
  const pick = () =>
    rs.members().find((m) =>
      m._id !== rs.self()?._id && rs.electable(m) && rs.views.get(m._id)?.health === 1 &&
      rs.views.get(m._id)?.state === 2 && tsGte(rs.views.get(m._id)?.optime, rs.lastApplied())
    );
  const end = Date.now() + catchUpMs;
  const outcome = await rs.blockingWrites(async () => {
    for (;;) {
      if (rs.state !== 1) return "no longer primary";
      const target = pick();
      if (target) {
        rs.stepDown(stepDownMs);
        return target;
      }
      const left = end - Date.now();
      if (left <= 0) return "none caught up";
      await rs.waitFor(() => pick() !== undefined || rs.state !== 1, left);
    }
  });
  if (typeof outcome === "string") return outcome;
  const stepUp = rs.server.peers.run(
    outcome.host,
    "admin",
    { replSetStepUp: 1, skipDryRun: true },
    5000,
  ).catch(() => {});
  if (awaitStepUp) await stepUp;
  return "handed";
}
