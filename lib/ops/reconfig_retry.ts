import { sleep } from "../mongo/client.ts";

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
