import type { Document } from "mongodb";
import { poll, splitHostPort } from "../mongo/client.ts";
import { primaryConfig, sendReconfig } from "./reconfig_retry.ts";
import { machinePort } from "../topology/hosts.ts";
import { mongo } from "./cluster_client.ts";
import { type Operation, type OperationContext, OperationError, param } from "./operation.ts";
import { noPrimaryCause, planTimeoutMs, timeoutHint } from "./timeout.ts";
import { repairCommandOfPlan } from "../plan/command_of.ts";

/** A member's election options as the topology gives them (MongoDB's defaults filled in). */
export interface MemberOptions {
  /** `host:port` as the set's config names the member. */
  host: string;
  priority: number;
  votes: number;
  hidden: boolean;
}

/** The fields of MemberOptions that replSetReconfig changes (the topology's names too). */
export const MEMBER_OPTION_FIELDS = ["priority", "votes", "hidden"] as const;

/** Of MEMBER_OPTION_FIELDS, those `was` and `want` both give, with other values. */
export function changedFields(
  was: Partial<Omit<MemberOptions, "host">>,
  want: Partial<Omit<MemberOptions, "host">>,
): (typeof MEMBER_OPTION_FIELDS)[number][] {
  return MEMBER_OPTION_FIELDS.filter((k) =>
    was[k] !== undefined && want[k] !== undefined && was[k] !== want[k]
  );
}

/**
 * Param `options` (JSON list of MemberOptions): what each listed member is to be; `members`
 * (JSON list of `host:port`): the set as recorded, where the primary is looked for; `before`
 * (JSON list of MemberOptions, optional): what the plan read, for the result's notice; `kept`
 * ("true", optional): the set's configuration is the one its kept data holds, which the plan
 * could not read (addKeptConfigOps), and what differed is the result's notice.
 */
const wanted = (ctx: OperationContext): MemberOptions[] => JSON.parse(param(ctx, "options"));
const recorded = (ctx: OperationContext): string[] => JSON.parse(param(ctx, "members"));

/** A config member's options, with MongoDB's defaults for the fields it leaves out. */
function optionsOf(m: Document): Omit<MemberOptions, "host"> {
  return {
    priority: Number(m.priority ?? 1),
    votes: Number(m.votes ?? 1),
    hidden: m.hidden === true,
  };
}

/** The set's config as its primary holds it, and that primary's `host:port`. */
const readConfig = (ctx: OperationContext) => primaryConfig(mongo(ctx), recorded(ctx));

/**
 * Whether a member's change from `was` to `want` gains it a higher priority or a vote: such
 * changes are made first (pendingChanges; the reconfigure planner counts them in that order).
 */
export function gainsElection(
  was: Pick<MemberOptions, "priority" | "votes">,
  want: Pick<MemberOptions, "priority" | "votes">,
): boolean {
  return want.priority > was.priority || want.votes > was.votes;
}

/**
 * The members of `options` whose entry in `config` differs, in the order they are changed: those
 * that gain (a higher priority, a vote) first, so that no step leaves the set without an
 * electable member; the primary `at` last among those that lose, as losing its priority steps it
 * down. A member `config` does not list is an error (it left the set outside mup).
 */
export function pendingChanges(
  options: MemberOptions[],
  config: Document,
  at: string,
  /** The repair the error names (repairCommandOfPlan). */
  repair = "mup cluster deploy <cluster> <its recorded topology>",
): { want: MemberOptions; index: number; was: Omit<MemberOptions, "host"> }[] {
  const members = config.members as Document[];
  const out = options.flatMap((want) => {
    const index = members.findIndex((m) => machinePort(String(m.host)) === machinePort(want.host));
    if (index < 0) {
      throw new OperationError(
        `${want.host} is not in the config of replica set ${config._id} (removed outside ` +
          `mup?): \`${repair}\` (a repair) adds it back`,
        { noEffect: true },
      );
    }
    const was = optionsOf(members[index]);
    return changedFields(was, want).length ? [{ want, index, was }] : [];
  });
  const rank = (c: (typeof out)[number]) =>
    gainsElection(c.was, c.want) ? 0 : machinePort(c.want.host) === machinePort(at) ? 2 : 1;
  return out.sort((a, b) => rank(a) - rank(b));
}

const describeChange = (c: ReturnType<typeof pendingChanges>[number]) =>
  `${c.want.host} (${
    changedFields(c.was, c.want).map((f) => `${f} ${c.was[f]} → ${c.want[f]}`)
      .join(", ")
  })`;

/**
 * Sets members' priority, votes and hidden as the topology gives them, with replSetGetConfig and
 * replSetReconfig on the set's primary, one member per reconfig (MongoDB 4.4+ lets a non-force
 * reconfig change at most one voting member, code 103, and each waits until its config is
 * committed on a majority before the next). Members that gain go first; the primary, when it
 * loses its priority, last: MongoDB refuses a config that makes the primary unelectable
 * (NodeNotElectable), so it is stepped down (replSetStepDown) and the new primary reconfigures. A member whose options are already the wanted ones
 * is left alone, so a resume after a crash changes only the rest. MongoDB manual: "Adjust
 * Priority for Replica Set Member", "Configure Non-Voting Replica Set Member", "Configure a
 * Hidden Replica Set Member", replSetReconfig.
 * Throws OperationError when no primary is found within the operation's timeout, when a member
 * is not in the set's config, or when the server refuses a reconfig (its code and message).
 */
export const reconfigMembers: Operation = {
  async isDone(ctx) {
    const found = await readConfig(ctx);
    return found !== undefined &&
      pendingChanges(wanted(ctx), found.config, found.at, repairCommandOfPlan(ctx.plan)).length ===
        0;
  },
  async run(ctx) {
    const set = ctx.op.target.name;
    const timeout = planTimeoutMs(ctx, 120_000);
    const done: string[] = [];
    const stepped: string[] = [];
    // What the plan read when it was made (param `before`): a member found otherwise when
    // applied was changed meanwhile, outside mup; said in the result's notice.
    const planned = new Map(
      (JSON.parse(ctx.op.target.params.before ?? "[]") as MemberOptions[])
        .map((b) => [machinePort(b.host), b]),
    );
    const since: string[] = [];
    const deadline = Date.now() + timeout;
    for (;;) {
      // The primary is asked again for every member: a reconfig may be followed by an election.
      const found = await poll(() => readConfig(ctx), deadline - Date.now(), 100, ctx.signal);
      if (!found) {
        throw new OperationError(
          `replica set ${set} has no primary to reconfigure${
            done.length ? ` (changed so far: ${done.join(", ")})` : ""
          } (${noPrimaryCause(ctx)}); ${timeoutHint(ctx, timeout)}`,
          { noEffect: done.length === 0 && stepped.length === 0 },
        );
      }
      const [next] = pendingChanges(
        wanted(ctx),
        found.config,
        found.at,
        repairCommandOfPlan(ctx.plan),
      );
      if (!next) break;
      const [h, p] = splitHostPort(found.at);
      if (next.want.priority === 0 && machinePort(next.want.host) === machinePort(found.at)) {
        // The primary refuses a config that makes it unelectable (NodeNotElectable, 104): it
        // steps down first (waiting up to 10 s for a secondary to catch up, as rs.stepDown
        // does), and the next round asks the new primary. A closed connection is the
        // step-down itself (MongoDB drops its clients).
        const refused = await mongo(ctx).adminCommand(h, p, {
          replSetStepDown: 60,
          secondaryCatchUpPeriodSecs: 10,
        }).then(() => undefined, (e) => typeof e?.code === "number" ? e as Error : undefined);
        if (!refused) stepped.push(found.at);
        else if (Date.now() >= deadline) {
          throw new OperationError(
            `${found.at}, the primary of ${set}, must step down before it gets priority 0, and ` +
              `replSetStepDown failed: ${refused.message}; ${timeoutHint(ctx, timeout)}`,
            { noEffect: done.length === 0 && stepped.length === 0 },
          );
        }
        continue;
      }
      const members = [...found.config.members as Document[]];
      const { host: _, ...fields } = next.want;
      members[next.index] = { ...members[next.index], ...fields };
      const sent = await sendReconfig(
        mongo(ctx),
        found,
        members,
        deadline,
        () => readConfig(ctx),
        ctx.signal,
        {
          what: `setting ${describeChange(next)} in ${set}`,
          untouched: done.length === 0 && stepped.length === 0,
        },
      );
      if (sent === "again") continue;
      done.push(describeChange(next));
      const read = planned.get(machinePort(next.want.host));
      const moved = read ? changedFields(read, next.was) : [];
      if (moved.length) {
        since.push(
          `${next.want.host} ${
            moved.map((f) => `${f} ${next.was[f]} (the plan read ${read![f]})`).join(", ")
          }`,
        );
      }
    }
    return {
      output: done.length
        ? `set ${done.join(", ")} in ${set}${
          stepped.length ? ` (stepped down ${[...new Set(stepped)].join(", ")} first)` : ""
        }`
        : `${set}'s members already have these options`,
      metadata: { changed: done, stepped_down: [...new Set(stepped)] },
      ...(done.length ? {} : { inPlace: true }),
      ...(since.length
        ? { notice: `changed outside mup since the plan was made: ${since.join("; ")}` }
        : ctx.op.target.params.kept === "true" && done.length
        ? { notice: `its kept configuration differed: set ${done.join(", ")}` }
        : {}),
    };
  },
};
