/**
 * What a `cluster reconfigure` does about write concern: a new `global.default_write_concern`
 * set (setDefaultRWConcern) before any member's options change, and, without one, the refusal
 * of a votes change that changes a set's implicit default write concern while no cluster-wide
 * default is set (MongoDB refuses that reconfig: implicit_write_concern.ts). Pure.
 */
import {
  concernText,
  defaultWriteConcernChange,
  defaultWriteConcernIssues,
  defaultWriteConcernOps,
  documentText,
} from "./default_write_concern.ts";
import { implicitDefaultRefusal, setBackChange } from "./implicit_write_concern.ts";
import type { ReconfigurePlanInput } from "./reconfigure.ts";
import type { MemberOptionChange } from "./member_options.ts";
import type { ProcessSpec, ReplicaSetSpec } from "./processes.ts";
import type { PlannedOperation, ValidationIssue } from "./schema.ts";
import { writeConcernDocument } from "../topology/schema.ts";
import { hostPort } from "../topology/hosts.ts";
import { sameConcern } from "../ops/set_default_write_concern.ts";

/**
 * The operations that set the asked default write concern when it changes (`routers`: the
 * running mongos a sharded cluster's goes through), and the issues of the plan: the asked
 * value's (defaultWriteConcernIssues) when it is set; else each set (`sets`, as asked) whose
 * member `options` changes would change its implicit default while no cluster-wide one is set
 * (counted in reconfig_members' order, gains first). With one set first, MongoDB no longer
 * refuses those.
 */
export function reconfigureWriteConcern(
  input: ReconfigurePlanInput,
  sets: ReplicaSetSpec[],
  options: MemberOptionChange[],
  routers: ProcessSpec[],
  /** Whether set `set`'s primary runs now (the live facts). */
  primaryUp: (set: string) => boolean,
): { ops: PlannedOperation[]; issues: ValidationIssue[] } {
  const dwc = input.topology.global.default_write_concern;
  const change = defaultWriteConcernChange(input.meta.topology, input.topology);
  // Changed outside mup since it was recorded: set back (tester71).
  const live = input.liveWriteConcern;
  const drifted = !!dwc && change === "none" && live !== undefined &&
    !sameConcern(live ?? undefined, writeConcernDocument(dwc));
  if (dwc && (change === "set" || drifted)) {
    // The review shows the value it replaces, as runtime_config's `old → new` (tester71).
    const was = input.meta.topology.global.default_write_concern;
    const ops = defaultWriteConcernOps(
      input.meta.name,
      input.meta.kind,
      dwc,
      sets,
      routers,
      () => [],
    );
    for (const o of ops) {
      o.description += drifted
        ? ` (set back: changed outside mup to ${live ? documentText(live) : "none"})`
        : was
        ? ` (recorded: ${concernText(was)})`
        : " (none recorded)";
    }
    // Nothing to send it through: refused when planned, never "No changes" (tester73).
    const name = input.meta.name;
    const start = `run \`mup cluster start ${name}\` first`;
    const m = input.meta.topology.mongos_servers[0];
    const firstMongos = m ? hostPort(m.host, m.port) : "<mongos>";
    const unreachable: ValidationIssue[] = input.meta.kind === "sharded"
      ? (routers.length ? [] : [{
        code: "no_mongos",
        severity: "error",
        message: `no mongos of cluster ${name} runs: a sharded cluster's default write concern ` +
          `is set through mongos (setDefaultRWConcern): run \`mup cluster start ${name}\` (or ` +
          `\`mup cluster start ${name} -N ${firstMongos}\`) first`,
      }])
      : ops.filter((o) => !primaryUp(o.target.name)).map((o) => ({
        code: "no_primary",
        severity: "error",
        message: `replica set ${o.target.name} has no primary to set the default write concern ` +
          `on (too many of its members are down): ${start}`,
      }));
    return {
      ops,
      issues: [
        ...defaultWriteConcernIssues(input.topology, input.meta.kind, sets, input.meta.version),
        ...unreachable,
      ],
    };
  }
  return {
    ops: [],
    issues: sets.flatMap((s) => {
      const mine = options.filter((c) => c.proc.replicaSet === s.name);
      const issue = implicitDefaultRefusal(
        input.meta,
        s,
        setBackChange(s.members, [], mine),
        input.cwwcSet?.[s.name],
      );
      return issue ? [issue] : [];
    }),
  };
}
