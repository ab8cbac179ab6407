import type { Document } from "mongodb";
import { poll, splitHostPort } from "../mongo/client.ts";
import { AVAILABLE_COMMANDS } from "../plan/redeploy.ts";
import { machinePort } from "../topology/hosts.ts";
import { mongo } from "./cluster_client.ts";
import { type Operation, type OperationContext, OperationError, param } from "./operation.ts";
import { planTimeoutMs, timeoutHint } from "./timeout.ts";
import { assertSetName } from "./set_name.ts";
import { serverMessage } from "../mongo/server_error.ts";

/** The planned replica-set config (the replSetInitiate document): `_id` and `members`. */
interface SetConfig {
  _id: string;
  members: Document[];
}

function planned(ctx: OperationContext): SetConfig {
  return JSON.parse(param(ctx, "config"));
}

/** A member as a machine and port, so `localhost:P` and `127.0.0.1:P` are one member. */
const memberKey = machinePort;

/**
 * A config of the planned set that a member already holds, seen through that member's
 * replSetGetStatus, and how its members compare with the plan's (`host:port` as each names them).
 */
interface ExistingSet {
  /** The member that answered (`host:port` as the plan names it). */
  at: string;
  status: Document;
  /** Planned members the existing config lacks. */
  missing: string[];
  /** Members of the existing config the plan lacks. */
  extra: string[];
}

/** AuthenticationFailed (18) or Unauthorized (13): the server wants credentials mup's fail. */
const refusedLogin = (e: unknown) => [13, 18].includes((e as { code?: number })?.code ?? 0);

/**
 * The part of a replSetGetStatus answer that hello gives without credentials: the set's name,
 * its members (hosts, passives, arbiters) and which is primary (state 1), and the answering
 * member's own state (1 primary, 2 secondary, else 0). Undefined without a set name (not
 * initiated, or no answer). MongoDB: "hello" (setName, hosts, passives, arbiters, primary).
 */
function statusFromHello(h: Document | undefined): Document | undefined {
  if (!h?.setName) return undefined;
  const names = [...(h.hosts ?? []), ...(h.passives ?? []), ...(h.arbiters ?? [])] as string[];
  return {
    set: h.setName,
    myState: h.isWritablePrimary ? 1 : h.secondary ? 2 : 0,
    members: names.map((name) => ({ name, state: name === h.primary ? 1 : 0 })),
  };
}

/**
 * Why mup cannot go on with set `name`: its members refuse mup's credentials and the localhost
 * exception is closed, so a user exists that mup did not create (MongoDB docs: "Localhost
 * Exception": it closes once any user exists). Waiting cannot mend it.
 */
function foreignUser(ctx: OperationContext, name: string, at: string): OperationError {
  const c = ctx.plan.cluster_name;
  return new OperationError(
    `replica set ${name} is initiated, but ${at} refuses mup's commands: the stored admin ` +
      "credentials do not authenticate and the localhost exception is closed, so a user exists " +
      "that mup did not create (MongoDB closes the exception once any user exists). mup creates " +
      "its admin user only through that exception; waiting cannot help. Drop that user with its " +
      "own credentials and restart the set's members (a restart with no user reopens the " +
      `exception), then \`mup plan resume ${c}\`; or remove what this deploy made with ` +
      `\`mup cluster destroy ${c}\` and deploy again`,
  );
}

const hasPrimary = (s: Document) => !!s.members?.some((m: Document) => m.state === 1);
const matches = (e: ExistingSet) => e.missing.length === 0 && e.extra.length === 0;

/**
 * Asks every planned member, all at once, for replSetGetStatus, and returns the config of the
 * planned set (`_id`) one of them holds, or undefined when none does. A member without a config
 * (NotYetInitialized, 94: a new member, one whose data was wiped), one that does not answer, or
 * one that reports another set (assertSetName's concern) is no evidence either way, so one such
 * member listed first does not hide the set the others hold. Of several answers, a primary's is
 * taken first (its config is the set's), then one whose members are the plan's.
 */
async function existingSet(
  ctx: OperationContext,
  config: SetConfig,
): Promise<ExistingSet | undefined> {
  const answers = await Promise.all(config.members.map(async (m) => {
    const [h, p] = splitHostPort(m.host);
    try {
      const status = await mongo(ctx).adminCommand(h, p, { replSetGetStatus: 1 });
      return status.set === config._id ? { at: m.host as string, status } : undefined;
    } catch (e) {
      // Refused for want of credentials (a user mup did not create closed the localhost
      // exception): hello, which needs none, still says whether the set is initiated.
      if (!refusedLogin(e)) return undefined;
      const status = statusFromHello(await mongo(ctx).hello(h, p));
      return status?.set === config._id ? { at: m.host as string, status } : undefined;
    }
  }));
  const plannedKeys = new Map(config.members.map((m) => [memberKey(m.host), m.host as string]));
  // A repair adds members removed outside mup back after this (its add_members): param
  // `added_later` (JSON list of host:port) names them, whose absence is then no conflict.
  const later = new Set(
    (JSON.parse(ctx.op.target.params.added_later ?? "[]") as string[]).map(memberKey),
  );
  const found = answers.filter((a) => a !== undefined).map((a): ExistingSet => {
    const names: string[] = (a.status.members ?? []).map((m: Document) => String(m.name));
    const have = new Set(names.map(memberKey));
    return {
      ...a,
      missing: [...plannedKeys].filter(([k]) => !have.has(k) && !later.has(k)).map(([, hp]) => hp),
      extra: names.filter((n) => !plannedKeys.has(memberKey(n))),
    };
  });
  return found.find((e) => e.status.myState === 1) ?? found.find(matches) ?? found[0];
}

/**
 * The set exists with other members than planned: nothing here may change that (initiating
 * again cannot, and would split the set); name the difference and what changes membership.
 */
function membershipConflict(name: string, e: ExistingSet): OperationError {
  const how = (cmd: "scale-out" | "scale-in") =>
    AVAILABLE_COMMANDS.has(cmd) ? `\`mup cluster ${cmd}\`` : `${cmd}, which mup cannot do yet`;
  const diffs = [
    ...(e.missing.length ? [`planned, not in its config: ${e.missing.join(", ")}`] : []),
    ...(e.extra.length ? [`in its config, not planned: ${e.extra.join(", ")}`] : []),
  ];
  const members = (e.status.members as Document[]).map((m) => m.name).join(", ");
  return new OperationError(
    `replica set ${name} is already initiated (${e.at} holds its config) with other members than ` +
      `the plan's: ${diffs.join("; ")}. Initiating it again cannot change its members: adding ` +
      `members needs ${how("scale-out")}, removing them ${how("scale-in")}. Deploy with a ` +
      `topology whose ${name} members are ${members}, or change the set's members yourself ` +
      `(replSetReconfig)`,
    { noEffect: true },
  );
}

/**
 * replSetInitiate on one member, then waits for a primary. Never initiates twice: a set any
 * planned member already holds a config of is in place (isDone) or, with other members than
 * planned, an error; replSetInitiate's AlreadyInitialized (23) is checked the same way, never
 * taken for an initiation. MongoDB: replSetInitiate, replSetGetStatus (NotYetInitialized, 94).
 */
export const initReplicaSet: Operation = {
  async isDone(ctx) {
    const e = await existingSet(ctx, planned(ctx));
    return e !== undefined && matches(e) && hasPrimary(e.status);
  },
  async run(ctx) {
    const config = planned(ctx);
    // Members holding another set's config (retained data) would answer "already initialized"
    // and never become members of this set: refuse before initiating anything.
    await assertSetName(ctx, mongo(ctx), config.members.map((m) => m.host), config._id);
    let found = await existingSet(ctx, config);
    let at: string;
    if (found) at = found.at;
    else {
      at = (config.members.find((m) => (m.priority ?? 1) > 0 && !m.arbiterOnly) ??
        config.members[0]).host;
      const [h, p] = splitHostPort(at);
      try {
        await mongo(ctx).adminCommand(h, p, { replSetInitiate: config }, 30_000);
      } catch (e) {
        const code = (e as { code?: unknown }).code;
        if (code !== 23) {
          // A server's refusal (an error code) initiated nothing; a lost connection may have.
          throw new OperationError(
            `replSetInitiate for ${config._id} failed: ${serverMessage(e)}`,
            { noEffect: typeof code === "number" },
          );
        }
        // AlreadyInitialized: `at` holds a config after all (an initiate that raced this one,
        // or one this run did not see). Looked at again, as isDone does; never taken as done.
        found = await existingSet(ctx, config);
        if (!found) {
          throw new OperationError(
            `replSetInitiate for ${config._id} on ${at} answered AlreadyInitialized (code 23), ` +
              `but no planned member reports a config of ${config._id}: ${at} holds a replica ` +
              `set config that is not this one (\`replSetGetStatus\` on it says which)`,
            { noEffect: true },
          );
        }
        at = found.at;
      }
    }
    if (found && !matches(found)) throw membershipConflict(config._id, found);
    const note = found ? `already initiated (config found on ${found.at})` : "initiated";
    const [h, p] = splitHostPort(at);
    const timeout = planTimeoutMs(ctx, 60_000);
    // One connection to the member that holds the config, polled often: elections take
    // milliseconds on small sets, and a new client per poll costs more than the wait.
    let denied = false;
    const s = await mongo(ctx).withServer(h, p, (c) =>
      poll(
        async () => {
          let st: Document;
          try {
            st = await c.db("admin").command({ replSetGetStatus: 1 });
          } catch (e) {
            // No answer will come that mup may read: said at once, not at the timeout.
            if (!refusedLogin(e)) throw e;
            denied = true;
            return null;
          }
          return st.set === config._id && hasPrimary(st) ? st : undefined;
        },
        timeout,
        50,
        ctx.signal,
      ), 5000).catch((e) => {
        // Refused at login (the connection authenticates as it opens).
        if (!refusedLogin(e)) throw e;
        denied = true;
        return undefined;
      });
    if (denied) throw foreignUser(ctx, config._id, at);
    if (!s) {
      throw new OperationError(
        `replica set ${config._id} has no primary ${timeout / 1000}s after ${
          found ? "it was found initiated" : "replSetInitiate"
        }; ${timeoutHint(ctx, timeout)}`,
      );
    }
    const primary = s.members.find((m: Document) => m.state === 1);
    return {
      output: `${note}; primary ${primary.name} (term ${s.term})`,
      metadata: {
        primary: primary.name,
        term: s.term,
        ...(found ? { already_initiated: true } : {}),
      },
      // Found initiated (retained data, an earlier attempt): this run initiated nothing.
      ...(found ? { inPlace: true } : {}),
    };
  },
};
