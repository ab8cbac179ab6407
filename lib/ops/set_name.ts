/**
 * Whether the members of a replica set are members of the set the plan names. mongod started
 * with `--replSet rsX` on data whose stored config (local.system.replset) is of set rs0 keeps that
 * config, takes itself for no member of it (REMOVED, "waiting for reconfig or remote heartbeat",
 * MongoDB's repl/replication_coordinator_impl.cpp) and its hello names rs0: a deploy onto data
 * `cluster destroy --retain-data` kept under another set name. Nothing mup does can make such a
 * member one of rsX, so the operations that check a set's effect fail at once, saying why.
 */
import { splitHostPort } from "../mongo/client.ts";
import type { MongoAccess } from "../mongo/client.ts";
import { listProcesses } from "../plan/processes.ts";
import { hostPort } from "../topology/hosts.ts";
import { type OperationContext, OperationError } from "./operation.ts";

/** Members whose hello names another replica set than the planned one. */
export interface ForeignSet {
  /** `host:port` of each such member, in the order given. */
  members: string[];
  /** The set name the first of them reports (hello.setName). */
  found: string;
}

/**
 * The members of `members` (`host:port`, asked all at once) whose hello reports a setName other
 * than `expected`; undefined when every member that answers names `expected` or none (a member
 * not yet initiated, or one that does not answer, is no evidence either way).
 */
export async function foreignSetName(
  access: MongoAccess,
  members: string[],
  expected: string,
): Promise<ForeignSet | undefined> {
  const answers = await Promise.all(members.map((m) => {
    const [h, p] = splitHostPort(m);
    return access.hello(h, p);
  }));
  const foreign = members.map((m, i) => ({ m, name: answers[i]?.setName })).filter((x) =>
    typeof x.name === "string" && x.name !== expected
  );
  return foreign.length
    ? { members: foreign.map((x) => x.m), found: foreign[0].name as string }
    : undefined;
}

/** The data directory the plan's topology gives `member` (`host:port`), when it names one. */
function dataDirOf(ctx: OperationContext, member: string): string | undefined {
  try {
    return listProcesses(ctx.plan.topology, ctx.plan.deploy_dir).find((p) =>
      hostPort(p.host, p.port) === member && p.role !== "mongos"
    )?.dirs.data;
  } catch {
    return undefined; // a plan without a usable topology: the message goes without the path
  }
}

/**
 * The error for `f`: names the member, the set it reports, the set expected, the data directory
 * and the two ways forward. `noEffect` as the caller knows it.
 */
export function foreignSetError(
  ctx: OperationContext,
  f: ForeignSet,
  expected: string,
  noEffect = true,
): OperationError {
  const [first, ...more] = f.members;
  const dir = dataDirOf(ctx, first);
  const dirs = f.members.map((m) => dataDirOf(ctx, m)).filter((d): d is string => !!d);
  const data = dir ? `the data in ${dir}` : `its data`;
  const others = more.length ? ` (so ${more.length === 1 ? "does" : "do"} ${more.join(", ")})` : "";
  return new OperationError(
    `member ${first} reports replica set ${f.found}${others}, but the plan expects ${expected}: ${data} belongs to replica set ${f.found} (its stored replica-set config names ${f.found}, so mongod does not take it for a member of ${expected}). Deploy with replica_set: ${f.found} for these members to use that data, or remove the data${
      dirs.length
        ? ` (\`rm -rf ${dirs.join(" ")}\`${
          first.startsWith("localhost:") ? "" : " on their hosts"
        })`
        : ""
    } to start ${expected} empty`,
    { noEffect },
  );
}

/** Throws foreignSetError when a member of `members` reports another set than `expected`. */
export async function assertSetName(
  ctx: OperationContext,
  access: MongoAccess,
  members: string[],
  expected: string,
  noEffect = true,
): Promise<void> {
  const f = await foreignSetName(access, members, expected);
  if (f) throw foreignSetError(ctx, f, expected, noEffect);
}
