/**
 * configureFailPoint, as MongoDB runs it for tests (only with `setParameter enableTestCommands`,
 * otherwise the command does not exist): the fail points the simulator has.
 * - `stopReplProducerOnDocument` (data `{document}`): a secondary's oplog fetcher applies the
 *   entries before the first whose `o` holds every field of `document`, then fetches nothing
 *   more until the point is turned off. A test makes a member hold part of a write with it.
 * - `failCommand` (data `{failCommands, errorCode, closeConnection, errorLabels, appName,
 *   blockConnection, blockTimeMS}`): the commands named fail before they run (fail_command.ts).
 *
 * Modes: "alwaysOn", "off", and `{times: n}` (the point turns itself off after n hits).
 */
import type { Document } from "bson";
import { CommandError, errors } from "../errors.ts";
import type { CommandContext, Handler } from "../server.ts";
import { TIMES } from "../fail_command.ts";

const KNOWN = new Set(["stopReplProducerOnDocument", "failCommand"]);

/** Whether the server runs with enableTestCommands. */
function testCommands(ctx: CommandContext): boolean {
  const v = (ctx.server.opts.parsed.setParameter as Record<string, unknown> | undefined)
    ?.enableTestCommands;
  return v === true || v === "true" || v === 1 || v === "1";
}

const configureFailPoint: Handler = (ctx) => {
  if (!testCommands(ctx)) throw errors.commandNotFound("configureFailPoint");
  const name = String(ctx.body.configureFailPoint);
  if (!KNOWN.has(name)) {
    throw new CommandError(`Cannot find failpoint: ${name}`, 2, "BadValue");
  }
  const mode = ctx.body.mode;
  if (mode === "off") ctx.server.failPoints.delete(name);
  else if (mode === "alwaysOn") {
    ctx.server.failPoints.set(name, { ...(ctx.body.data as Document | undefined) });
  } else if (
    typeof mode === "object" && mode !== null && Object.keys(mode).join() === "times" &&
    typeof mode.times === "number" && Number.isInteger(mode.times) && mode.times >= 0
  ) {
    if (Number(mode.times) === 0) ctx.server.failPoints.delete(name);
    else {
      ctx.server.failPoints.set(name, {
        ...(ctx.body.data as Document | undefined),
        [TIMES]: Number(mode.times),
      });
    }
  } else {
    throw new CommandError(`unsupported fail point mode: ${JSON.stringify(mode)}`, 2, "BadValue");
  }
  return { count: 0 };
};

export const failPointCommands: Record<string, Handler> = { configureFailPoint };
