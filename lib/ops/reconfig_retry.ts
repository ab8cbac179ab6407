import type { Document } from "mongodb";
import { type MongoAccess, sleep, splitHostPort } from "../mongo/client.ts";
import { selfPrimary } from "./replset_status.ts";
import { OperationError } from "./operation.ts";
import { serverMessage } from "../mongo/server_error.ts";

/**
 * When a replSetReconfig that failed is worth asking again, with the set's config read again
 * (add_members, remove_members). MongoDB manual, replSetReconfig; server error codes.
 */

/** An election or a lost connection meanwhile: the next round finds the primary again. */
const ELECTION = new Set([10107, 189, 11602]); // NotWritablePrimary, PrimarySteppedDown, InterruptedDueToReplStateChange
/**
 * 109 ConfigurationInProgress: the server's own reconfig is under way (MongoDB 4.4+ removes a
 * new member's `newlyAdded` once it is SECONDARY); 308 CurrentConfigNotCommittedYet: the
 * previous config has not reached a majority yet; 74 NodeNotFound: the quorum check did not
 * reach a member of the new config (a new member slow to answer). MongoDB's own test library
 * (jstests/replsets/rslib.js reconfigWithRetry) retries these.
 */
const BUSY = new Set([109, 308, 74]);
/** NewReplicaSetConfigurationIncompatible: also a version another reconfig took meanwhile. */
const INCOMPATIBLE = 103;

/**
 * Whether to read the config again and retry, for a failure with `code` (undefined: no server
 * answer) of a reconfig built on config `version`; `versionNow` is the version the primary holds
 * now, asked only for code 103 (`readVersion`; undefined when it cannot be read). A 103 at an
 * unchanged version is the server refusing this config: not retried.
 */
export async function reconfigAgain(
  code: unknown,
  version: number,
  readVersion: () => Promise<number | undefined>,
): Promise<boolean> {
  if (typeof code !== "number" || ELECTION.has(code) || BUSY.has(code)) return true;
  if (code !== INCOMPATIBLE) return false;
  const now = await readVersion().catch(() => undefined);
  return now !== undefined && Number.isFinite(now) && now !== version;
}

/**
 * reconfigAgain before `deadline` (ms since the epoch), pausing 250 ms after a server's answer
 * (it was busy) so that the next round does not ask at once. True: read the config and retry.
 */
export async function retryReconfig(
  code: unknown,
  version: number,
  readVersion: () => Promise<number | undefined>,
  deadline: number,
  signal: AbortSignal,
): Promise<boolean> {
  if (Date.now() >= deadline || !(await reconfigAgain(code, version, readVersion))) return false;
  if (typeof code === "number") await sleep(250, signal);
  return true;
}

/**
 * The set's primary (`host:port` as it names itself: selfPrimary, each member asked) and the
 * config it holds (replSetGetConfig); undefined when neither can be read.
 */
export async function primaryConfig(
  access: MongoAccess,
  members: string[],
): Promise<{ at: string; config: Document } | undefined> {
  const at = await selfPrimary(access, members);
  if (!at) return undefined;
  const [h, p] = splitHostPort(at);
  const r = await access.adminCommand(h, p, { replSetGetConfig: 1 }).catch(() => undefined);
  return r?.config ? { at, config: r.config } : undefined;
}

/**
 * Sends the next version of `found.config` (version + 1, without the term that
 * replSetGetConfig's reply carries and replSetReconfig does not take) with `members` to the
 * primary `found.at` with replSetReconfig, bounded by `deadline` (ms since the epoch). "sent" once the
 * server took it; "again" when the failure is worth a new round (retryReconfig, the config read
 * again by `read`). Throws OperationError "replSetReconfig <what> … failed: <server's message> (code <n>, <name>)"
 * otherwise, marked as having changed nothing when `untouched` (nothing done before) and the
 * server refused it (a code).
 */
export async function sendReconfig(
  access: MongoAccess,
  found: { at: string; config: Document },
  members: Document[],
  deadline: number,
  read: () => Promise<{ config: Document } | undefined>,
  signal: AbortSignal,
  failure: { what: string; untouched: boolean },
): Promise<"sent" | "again"> {
  const [h, p] = splitHostPort(found.at);
  const { term: _, ...rest } = found.config;
  const config = { ...rest, version: Number(found.config.version) + 1, members };
  try {
    await access.adminCommand(
      h,
      p,
      { replSetReconfig: config, maxTimeMS: Math.max(10_000, deadline - Date.now()) },
      Math.max(15_000, deadline - Date.now() + 5_000),
    );
    return "sent";
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    // An election, a lost connection (that may have reconfigured), the server's own reconfig or
    // one not yet committed: the next round reads the config again.
    const version = async () => Number((await read())?.config.version);
    if (await retryReconfig(code, Number(found.config.version), version, deadline, signal)) {
      return "again";
    }
    throw new OperationError(
      `replSetReconfig ${failure.what} on ${found.at} failed: ${serverMessage(e)}`,
      { noEffect: failure.untouched && typeof code === "number" },
    );
  }
}
