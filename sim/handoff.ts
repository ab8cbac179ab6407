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
  const ok = await handOff(rs, Math.max(timeoutSecs, force ? 0 : 1) * 1000, 60_000, true);
  if (!ok && !force) {
    throw errors.exceededTimeLimit(
      `No electable secondaries caught up as of ${
        new Date().toISOString()
      }. Please use the replSetStepDown command with the argument {force: true} to force node to step down.`,
    );
  }
  if (!ok) rs.stepDown(60_000);
}

/**
 * Waits up to `catchUpMs` for a caught-up electable secondary, steps down for `stepDownMs` and
 * asks it to stand at once; false when none caught up (nothing changed then).
 */
export async function handOff(
  rs: ReplSet,
  catchUpMs: number,
  stepDownMs: number,
  awaitStepUp = false,
): Promise<boolean> {
  const mine = rs.lastApplied();
  const pick = () =>
    rs.members().find((m) =>
      m._id !== rs.self()?._id && rs.electable(m) && rs.views.get(m._id)?.health === 1 &&
      rs.views.get(m._id)?.state === 2 && tsGte(rs.views.get(m._id)?.optime, mine)
    );
  const ok = await rs.waitFor(() => pick() !== undefined, catchUpMs);
  const target = pick();
  if (!ok || !target) return false;
  rs.stepDown(stepDownMs);
  const stepUp = rs.server.peers.run(
    target.host,
    "admin",
    { replSetStepUp: 1, skipDryRun: true },
    5000,
  ).catch(() => {});
  if (awaitStepUp) await stepUp;
  return true;
}
