/**
 * hello's replica-set fields as a member answers them (MongoDB's fillHelloForReplSet): its state,
 * the set's name and version, the hosts, passives and arbiters a client discovers the set by,
 * the primary, this member's own attributes and its last write.
 */
import { type Document, Timestamp } from "bson";
import type { ReplSet } from "./replset.ts";

/** The hello fields of member `rs` (ReplSet.helloFields, the RoleHooks entry). */
export function replSetHelloFields(rs: ReplSet): Document {
  const cfg = rs.config;
  const me = rs.self();
  const base = rs.server.opts.clusterRole === "configsvr" ? { configsvr: 2 } : {};
  if (!cfg || !me) {
    return {
      ...base,
      // A member not in its config (REMOVED) still names the config's set, as mongod's
      // fillHelloForReplSet does before it marks the reply "no config".
      ...(cfg ? { setName: cfg._id } : {}),
      isWritablePrimary: false,
      ismaster: false,
      secondary: false,
      isreplicaset: true,
      info: "Does not have a valid replica set config",
    };
  }
  const ms = rs.members();
  const primary = rs.state === 1
    ? me
    : rs.primaryId !== undefined
    ? rs.member(rs.primaryId)
    : undefined;
  const last = rs.lastApplied() ?? new Timestamp({ t: 0, i: 0 });
  const lastDate = new Date(last.high * 1000);
  return {
    ...base,
    isWritablePrimary: rs.state === 1,
    ismaster: rs.state === 1,
    secondary: rs.state === 2,
    setName: cfg._id,
    setVersion: cfg.version,
    hosts: ms.filter((m) => !m.arbiterOnly && !m.hidden && (m.priority ?? 1) > 0).map((m) =>
      m.host.toLowerCase()
    ),
    ...(ms.some((m) => !m.arbiterOnly && !m.hidden && m.priority === 0)
      ? {
        passives: ms.filter((m) => !m.arbiterOnly && !m.hidden && m.priority === 0).map((m) =>
          m.host.toLowerCase()
        ),
      }
      : {}),
    ...(ms.some((m) => m.arbiterOnly)
      ? { arbiters: ms.filter((m) => m.arbiterOnly).map((m) => m.host.toLowerCase()) }
      : {}),
    ...(primary ? { primary: primary.host.toLowerCase() } : {}),
    me: me.host.toLowerCase(),
    ...(me.arbiterOnly ? { arbiterOnly: true } : {}),
    ...(me.hidden ? { hidden: true } : {}),
    ...(Number(me.secondaryDelaySecs ?? 0) > 0
      ? { secondaryDelaySecs: me.secondaryDelaySecs }
      : {}),
    // Any priority-0 member is passive, hidden ones too (topology_coordinator.cpp fillHelloForReplSet).
    ...(me.priority === 0 && !me.arbiterOnly ? { passive: true } : {}),
    tags: me.tags ?? {},
    ...(rs.state === 1 ? { electionId: rs.electionId } : {}),
    lastWrite: {
      opTime: { ts: last, t: rs.term },
      lastWriteDate: lastDate,
      majorityOpTime: { ts: last, t: rs.term },
      majorityWriteDate: lastDate,
    },
  };
}
