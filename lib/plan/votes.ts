import type { ProcessSpec } from "./processes.ts";
import type { ProcessFact } from "./lifecycle.ts";
import type { ValidationIssue } from "./schema.ts";
import { hostPort } from "../topology/hosts.ts";

/**
 * A replica set's voting arithmetic, by MongoDB's rule ("Replica Set Elections"): a primary is
 * elected and kept only while more than half of all configured votes are up. `total` is the sum
 * of the members' votes, `need` the majority (⌊total/2⌋ + 1), `count(f)` the votes of the
 * members `f` holds for (e.g. those running). Each member's votes are those its set's
 * configuration holds now where `facts` read them (`votes`; none for a member the set no longer
 * lists, `removed`): a DBA may have changed them with rs.reconfig since mup recorded the
 * topology, and MongoDB counts the configuration's (tester50). Else the recorded ones.
 */
export function setVotes(
  members: ProcessSpec[],
  facts: Record<string, ProcessFact> = {},
): {
  total: number;
  need: number;
  count: (f: (p: ProcessSpec) => boolean) => number;
} {
  const votesOf = (p: ProcessSpec) => facts[p.id]?.removed ? 0 : facts[p.id]?.votes ?? p.votes;
  const count = (f: (p: ProcessSpec) => boolean) =>
    members.filter(f).reduce((n, p) => n + votesOf(p), 0);
  const total = count(() => true);
  return { total, need: Math.floor(total / 2) + 1, count };
}

/**
 * A warning (`votes_unknown`) for set `name` when some of its `members` could not be asked (their
 * host unreachable: `facts[id].unreachable`): whether they run is unknown, so its votes cannot be
 * counted, and a warning that counted them as down would say the set is weaker than it may be.
 * The callers then say this instead of their vote arithmetic. Undefined when every member was
 * asked.
 */
export function votesUnknown(
  name: string,
  members: ProcessSpec[],
  facts: Record<string, ProcessFact>,
  doing: string,
): ValidationIssue | undefined {
  // The server itself may have said (it answered, or its port refused): then it is counted.
  const unknown = members.filter((p) => liveUnknown(facts[p.id]));
  if (!unknown.length) return undefined;
  return {
    code: "votes_unknown",
    severity: "warning",
    message: `${name}: ${unknown.map((p) => hostPort(p.host, p.port)).join(", ")} could not ` +
      `be asked (${facts[unknown[0].id].unreachable}), so whether the set keeps its majority ` +
      `while ${doing} cannot be told (\`mup cluster display\` shows what answers)`,
  };
}

/**
 * Whether a process's running is unknown: its host could not be asked over SSH, and its server
 * neither answered hello nor refused the connection.
 */
export function liveUnknown(f: ProcessFact | undefined): boolean {
  return !!f?.unreachable && !f.answering && !f.refused;
}
