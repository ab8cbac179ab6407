/**
 * The `failCommand` fail point, as MongoDB's (src/mongo/db/commands.cpp
 * CommandHelpers::evaluateFailCommandFailPoint; the drivers' test specifications use it): a
 * command it names, from a client it applies to, fails before it runs — with `errorCode` (and
 * `errorLabels`), or by the connection being closed (`closeConnection`) — after waiting
 * `blockTimeMS` when `blockConnection` is set. It applies to clients that introduced themselves
 * (drivers, shells), of `appName` when one is given; not to the simulator's own connections to
 * its peers, as MongoDB's leaves internal clients alone unless `failInternalCommands` is set.
 */
import type { Document } from "bson";
import { CommandError } from "./errors.ts";
import type { ConnState, Server } from "./server.ts";
import { codeName } from "./code_names.ts";

/** The data field that counts the hits a `{times: n}` point has left. */
export const TIMES = "__timesLeft";

/** What the point does to command `name` on `conn`: nothing, throws its error, or "close". */
export async function failCommand(
  server: Server,
  name: string,
  conn: ConnState,
): Promise<"close" | undefined> {
  const fp = server.failPoints.get("failCommand");
  if (!fp) return undefined;
  // An array of names (a string is no list: it matches nothing, not its substrings).
  const names = Array.isArray(fp.failCommands) ? fp.failCommands as string[] : [];
  const internal = conn.client === undefined;
  if (!names.includes(name) || (internal && fp.failInternalCommands !== true)) return undefined;
  if (typeof fp.appName === "string" && conn.client?.appName !== fp.appName) return undefined;
  if (fp[TIMES] !== undefined) {
    if (fp[TIMES] <= 1) server.failPoints.delete("failCommand");
    else fp[TIMES] -= 1;
  }
  if (fp.blockConnection === true) {
    await new Promise((r) => setTimeout(r, Number(fp.blockTimeMS ?? 0)));
  }
  if (fp.closeConnection === true) return "close";
  if (fp.errorCode === undefined) return undefined;
  throw new CommandError(
    "Failing command via 'failCommand' failpoint",
    Number(fp.errorCode),
    codeName(Number(fp.errorCode)),
    Array.isArray(fp.errorLabels) ? { errorLabels: fp.errorLabels as Document[] } : undefined,
  );
}
