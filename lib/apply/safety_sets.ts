/**
 * The safety check `set_lists_members`: the replica set's config lists every member in `listed`,
 * and no replSetReconfig sent before can still take one out. What a rollback of a scale-in cut
 * off in its remove_members asks before it calls the scale-in cancelled (tester103 #2): that the
 * reconfig it may have sent did not take a member out (a member taken out comes back only by a
 * scale-out). A reconfig the dead mup sent may still be on its way (held by a server waiting for
 * its previous config to commit), so the check fences first: it installs the same config at the
 * next version, which a reconfig built on an older version cannot replace (MongoDB refuses a
 * config whose version is not greater, NewReplicaSetConfigurationIncompatible), then reads it.
 */
import type { Document } from "mongodb";
import { type MongoAccess, splitHostPort } from "../mongo/client.ts";
import { primaryConfig } from "../ops/reconfig_retry.ts";
import { machinePort } from "../topology/hosts.ts";
import type { SafetyCheck } from "../plan/schema.ts";
import { sleep } from "../util/timer.ts";
import type { CheckOutcome } from "./safety.ts";

/** How long a set without a primary, or with a reconfig under way, is asked again, in ms. */
const SETTLE_GRACE_MS = 30_000;

/** Codes that say a reconfig is under way or the primary changed: asked again. */
const SETTLING = new Set([117, 10107, 189, 11602, 91]);

/**
 * `params.members` (`host:port` list: whom to ask), `params.listed` (those the config must
 * list, by machine and port), `params.fix` (what finishes a removal that happened). Fails,
 * lastingly, naming the members the config no longer lists; fails when no primary takes the
 * fence within SETTLE_GRACE_MS.
 */
export async function setListsMembers(
  c: SafetyCheck,
  access: MongoAccess,
  interrupt?: AbortSignal,
): Promise<CheckOutcome> {
  const members = c.params.members as string[];
  const listed = c.params.listed as string[];
  const end = Date.now() + SETTLE_GRACE_MS;
  let last = `no primary of ${c.target} answered replSetGetConfig`;
  for (;;) {
    const found = await primaryConfig(access, members);
    if (found) {
      const gone = notListed(found.config, listed);
      const version = `config version ${found.config.version} on ${found.at}`;
      if (gone.length) {
        const fix = c.params.fix as string | undefined;
        return {
          ok: false,
          lasting: true,
          status: `${c.target} no longer lists ${gone.join(", ")} (${version}): the scale-in ` +
            `took them out, which a rollback cannot undo${fix ? `; ${fix}` : ""}`,
          // A resume of the rollback would fail here again.
          ...(fix ? { replan: fix } : {}),
        };
      }
      // The fence: the same members at the next version.
      const { term: _term, ...config } = found.config;
      const fence = { ...config, version: Number(config.version) + 1 };
      const [h, p] = splitHostPort(found.at);
      const sent = await access.adminCommand(h, p, { replSetReconfig: fence }, 30_000).then(
        () => undefined,
        (e) => e as { code?: number; message?: string },
      );
      if (!sent) {
        return {
          ok: true,
          status:
            `${c.target} still lists ${listed.join(", ")} (config version ${fence.version}, ` +
            "installed so that no earlier reconfig can take them out)",
        };
      }
      last = `replSetReconfig of ${c.target} at version ${fence.version} (to settle it) failed: ` +
        `${sent.message}`;
      // Refused for a lasting reason: the config as it stands now decides (read again).
      if (sent.code !== undefined && !SETTLING.has(sent.code)) {
        const now = await primaryConfig(access, members);
        const gone = now ? notListed(now.config, listed) : [];
        if (gone.length) continue;
        return { ok: false, lasting: true, status: last };
      }
    }
    if (Date.now() >= end || interrupt?.aborted) return { ok: false, status: last };
    await sleep(500);
  }
}

/**
 * Read-only, for a rollback's planning: the members of check `c`'s `listed` that its set's
 * primary no longer lists ([] when it lists them all), or undefined when no primary answers
 * (the check at apply time decides then).
 */
export async function membersGone(
  c: SafetyCheck,
  access: MongoAccess,
): Promise<string[] | undefined> {
  const found = await primaryConfig(access, c.params.members as string[]);
  return found ? notListed(found.config, c.params.listed as string[]) : undefined;
}

/** The members of `listed` that `config` does not list (by machine and port). */
function notListed(config: Document, listed: string[]): string[] {
  const hosts = new Set(
    (config.members as { host: string }[]).map((m) => machinePort(String(m.host))),
  );
  return listed.filter((h) => !hosts.has(machinePort(h)));
}
