/**
 * What each replica set losing members must keep, judged before the scale-in is planned: `cluster
 * scale-in`'s refusals (every config server member, a replica set cluster's only set, no primary
 * to remove members through, no voting member left, a change of the implicit default write
 * concern MongoDB refuses, a numeric default `w` the set could not acknowledge) into `errors`, and
 * its warnings (an even number of voters, one data-bearing member left) into `warnings`. Pure.
 */
import { hostPort } from "../topology/hosts.ts";
import { defaultWriteConcernIssues } from "./default_write_concern.ts";
import { implicitDefaultChange, implicitDefaultRefusal } from "./implicit_write_concern.ts";
import type { ProcessSpec, ReplicaSetSpec } from "./processes.ts";
import type { ScaleInPlanInput } from "./scale_in.ts";
import type { ValidationIssue } from "./schema.ts";
import { setVotes } from "./votes.ts";

export function setRemovalIssues(
  input: ScaleInPlanInput,
  sets: ReplicaSetSpec[],
  gone: Set<string>,
  leaving: Map<string, ProcessSpec[]>,
  errors: ValidationIssue[],
  warnings: ValidationIssue[],
): void {
  const name = input.meta.name;
  const refuse = (code: string, p: ProcessSpec, message: string) =>
    errors.push({ code, severity: "error", host: p.host, message });
  for (const s of sets) {
    const stay = s.members.filter((m) => !gone.has(m.id));
    if (stay.length === 0 && s.members.length && s.configsvr) {
      refuse(
        "config_servers_removal",
        s.members[0],
        `every config server member (replica set ${s.name}) would go: a sharded cluster keeps ` +
          `its config server replica set (that is \`mup cluster destroy ${name}\`)`,
      );
      continue;
    }
    if (stay.length === 0 && s.members.length) {
      // A whole shard goes by removeShard (drained first); a replica set cluster's only set
      // going is a destroy.
      if (input.meta.kind !== "sharded") {
        refuse(
          "whole_set_removal",
          s.members[0],
          `every member of replica set ${s.name} would go: that is \`mup cluster destroy ${name}\``,
        );
      }
      continue;
    }
    // Members leave through the set's primary (replSetReconfig); one elected only with a
    // majority of the set's votes running, which the members that go count towards.
    const primary = s.members.some((m) => input.facts[m.id]?.state === "PRIMARY");
    const down = s.members.filter((m) => !input.facts[m.id]?.running);
    // (A staying member down is refused as not_running below.)
    const stayUp = stay.every((m) => input.facts[m.id]?.running);
    if (stay.length < s.members.length && !primary && stayUp) {
      const { total, need, count } = setVotes(s.members, input.facts);
      const nodes = down.map((m) => `-N ${hostPort(m.host, m.port)}`).join(" ");
      const out = s.members.filter((m) => gone.has(m.id));
      refuse(
        "no_primary",
        stay[0],
        `replica set ${s.name} has no primary (${
          count((m) => !!input.facts[m.id]?.running)
        } of ${total} votes run, ${need} needed to elect one): members are removed only through ` +
          `its primary. Start what is down first${
            down.length ? ` (\`mup cluster start ${name} ${nodes}\`)` : ""
          }, then scale in (\`mup cluster scale-in ${name} ${
            out.map((m) => `-N ${hostPort(m.host, m.port)}`).join(" ")
          }\`)`,
      );
    }
    const voters = stay.filter((m) => m.votes > 0);
    if (stay.length < s.members.length && voters.length === 0) {
      refuse(
        "no_voters_left",
        stay[0],
        `replica set ${s.name} would have no voting member left (MongoDB requires at least one)`,
      );
    }
    // The same as the topology's own check says of a set of one voter (validate_sets.ts).
    if (stay.length < s.members.length && voters.length === 1) {
      warnings.push({
        code: "single_voter",
        severity: "warning",
        message:
          `replica set ${s.name} keeps one voting member (${
            hostPort(voters[0].host, voters[0].port)
          }): it has no failover (while that member is down or restarting the set has no ` +
          "primary, and a rolling restart cannot keep it writable)",
      });
    }
    if (stay.length < s.members.length && voters.length > 0 && voters.length % 2 === 0) {
      warnings.push({
        code: "even_voters",
        severity: "warning",
        message: `replica set ${s.name} keeps ${voters.length} voting members: an even number ` +
          `tolerates no more failures than ${voters.length - 1} would (MongoDB manual, ` +
          '"Replica Set Deployment Architectures")',
      });
    }
    // MongoDB refuses a reconfig that changes a set's implicit default write concern while
    // no cluster-wide one is set (implicit_write_concern.ts: a shard's, only to {w: 1}).
    const out = leaving.get(s.name)!;
    const wc = out.length && stay.length &&
      implicitDefaultRefusal(
        input.meta,
        s,
        implicitDefaultChange(s.members, out.map((member) => ({ member, add: false }))),
        input.cwwcSet?.[s.name],
      );
    if (wc) errors.push(wc);
    // A numeric default w the set that stays could not acknowledge (tester71).
    if (stay.length) {
      errors.push(...defaultWriteConcernIssues(
        input.topology,
        input.meta.kind,
        [{ ...s, members: stay }],
        input.meta.version,
      ));
    }
    if (stay.length < s.members.length && stay.filter((m) => !m.arbiterOnly).length === 1) {
      warnings.push({
        code: "single_member_left",
        severity: "warning",
        message: `replica set ${s.name} keeps one data-bearing member: no copy of its data is ` +
          "left to fail over to",
      });
    }
  }
}
