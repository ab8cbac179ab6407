/**
 * What undoes one operation of an apply that `state rollback` reverses (lib/plan/rollback.ts):
 * a start by a stop, a stop by a start, a created directory or file by its removal, a rewritten
 * configuration by the recorded one; or why it cannot be undone (an initiated replica set, an
 * added shard, a step-down), which the rollback plan names in its warnings. Pure.
 */
import { addOrder } from "../ops/add_members.ts";
import { hostPort } from "../topology/hosts.ts";
import { change, check, op } from "./op_builders.ts";
import { EST } from "./lifecycle.ts";
import type { PlannedOperation, SafetyCheck } from "./schema.ts";

export interface UndoContext {
  /** The apply was a first deploy: undoing its save_metadata unrecords the cluster. */
  fresh: boolean;
  startAgain: Record<string, PlannedOperation[]>;
  /** Processes both stopped and started after the checkpoint: nothing to undo for either. */
  cancelled: Set<string>;
  /**
   * Processes stopped, then started by a start cut off while it ran: the start is not undone
   * (the process may be up again, as before the plan); the stop's undo starts it if it is not.
   */
  cutOffStarts: Set<string>;
  /** What each operation's run recorded (its outcome's metadata), by operation ID. */
  recorded: Record<string, Record<string, unknown> | undefined>;
  recordedConfigs: Record<string, string>;
  /** The rolled-back plan's operations, by ID. */
  ops: Map<string, PlannedOperation>;
  /** The IDs of the operations that completed. */
  completed: Set<string>;
  /**
   * Safety checks the rollback's last operation (marking the apply rolled back) must pass:
   * what an undo cannot do, but must find so (a cut-off remove_members took no member out).
   */
  checks: SafetyCheck[];
  /** The cluster's name (for the commands a warning names). */
  cluster: string;
}

/** An upload that wrote a recorded process's configuration again (change "update"). */
const rewrites = (o: PlannedOperation) =>
  o.type === "upload_file" && o.target.type === "process" &&
  o.changes.some((c) => c.action === "update");

/**
 * Operations that reverse one operation's effect ([] when it has none to reverse; their
 * depends_on lists only dependencies among themselves), or why it cannot be reversed.
 */
export function undoOps(o: PlannedOperation, ctx: UndoContext): PlannedOperation[] | string {
  const t = o.target;
  const fresh = ctx.fresh;
  const remove = (suffix: string, host: string, path: string, what: string) =>
    op({
      id: `undo-${o.id}${suffix}`,
      type: "remove_directory",
      description: `Remove ${what} ${host}:${path} (created by ${o.id})`,
      target: { type: "host", name: host, host, params: { path } },
      changes: [change(what === "file" ? "file" : "directory", `${host}:${path}`, "delete")],
      depends_on: [],
      estimated_ms: EST.remove,
    });
  switch (o.type) {
    case "start_process":
      if (ctx.cancelled.has(t.name) || ctx.cutOffStarts.has(t.name)) return [];
      return [op({
        id: `undo-${o.id}`,
        type: "stop_process",
        description: `Stop ${hostPort(t.host!, t.port!)} (started by ${o.id})`,
        target: {
          ...t,
          params: {
            pid_file: t.params.pid_file,
            ...(t.params.config ? { config: t.params.config } : {}),
            force: "true",
          },
        },
        changes: [change("process", t.name, "stop")],
        depends_on: [],
        estimated_ms: EST.stop,
      })];
    case "create_directory": {
      // Only what the run made: a directory that was there before (a data_dir the user
      // pointed at, data a destroy --retain-data kept) stays, whatever is in it.
      const created = ctx.recorded[o.id]?.created;
      if (Array.isArray(created)) {
        return (created as string[]).toReversed().map((p, i) =>
          remove(`-${i + 1}`, t.host!, p, "directory")
        );
      }
      // Recorded by an older mup, which did not say what it made: removed only if empty.
      return (JSON.parse(t.params.paths) as string[]).reverse().map((p, i) => {
        const r = remove(`-${i + 1}`, t.host!, p, "directory");
        r.target.params.if_empty = "true";
        r.description = `Remove ${t.host}:${p} if empty (made by ${o.id}, or there before)`;
        return r;
      });
    }
    case "upload_file": {
      if (rewrites(o)) {
        // The configuration it replaced is written back, as the metadata describes it.
        const content = ctx.recordedConfigs[t.name];
        const gen = o.depends_on.map((d) => ctx.ops.get(d)).find((d) =>
          d?.type === "generate_config"
        );
        if (content === undefined || !gen) {
          return `${o.id}: ${t.name}'s configuration ${t.host}:${t.params.dest} stays as ` +
            "written (the one it replaced is not recorded)";
        }
        const again = `undo-${gen.id}`;
        return [
          {
            ...gen,
            id: again,
            description: `Generate ${t.name}'s recorded configuration again (replaced by ${o.id})`,
            target: { ...gen.target, params: { ...gen.target.params, content } },
            depends_on: [],
          },
          {
            ...o,
            id: `undo-${o.id}`,
            description: `Put ${t.name}'s recorded configuration back on ${t.host}`,
            depends_on: [again],
          },
        ];
      }
      return t.params.kind === "binaries"
        ? [remove("", t.host!, t.params.dest_dir, "binaries")]
        : [remove("", t.host!, t.params.dest, "file")];
    }
    case "generate_config": {
      // A configuration written again is put back by its upload's undo, which stages it anew.
      const upload = [...ctx.ops.values()].find((u) => u.depends_on.includes(o.id) && rewrites(u));
      if (upload) return [];
      return [remove("", "localhost", t.params.staged_path, "file")];
    }
    case "init_replica_set":
      return `${o.id}: the replica set ${t.name} stays initiated on its members' data ` +
        "(undone only when their data directories are removed)";
    case "add_shard":
      return `${o.id}: shard ${t.name} stays registered on the config servers ` +
        "(removeShard drains data and is not run by a rollback)";
    case "save_metadata":
      // A first deploy recorded the cluster: undone, it is no longer recorded. A re-deploy
      // replaced earlier metadata, which is not kept to restore.
      return fresh
        ? [op({
          id: `undo-${o.id}`,
          type: "update_metadata",
          description: `Remove the cluster metadata (written by ${o.id})`,
          target: { ...t, params: { path: t.params.path, status: "removed" } },
          changes: [change("file", t.params.path, "delete")],
          depends_on: [],
          parallel: false,
          estimated_ms: EST.meta,
        })]
        : `${o.id}: the metadata it recorded replaced the earlier one, which is not kept`;
    case "stop_process": {
      if (ctx.cancelled.has(t.name)) return [];
      const again = ctx.startAgain[t.name];
      if (!again) {
        return `${o.id}: ${t.name} is not in the cluster's metadata, so it is not started again`;
      }
      const [start, ...waits] = again;
      return [
        { ...start, id: `undo-${o.id}`, description: `${start.description} (stopped by ${o.id})` },
        ...waits.map((w, i) => ({
          ...w,
          id: `undo-${o.id}-wait${i ? `-${i + 1}` : ""}`,
          depends_on: [`undo-${o.id}`],
        })),
      ];
    }
    case "step_down":
      // Pure: whether the set's priorities moved the primary back since is not known here.
      return `${o.id}: the step-down of ${t.name} is not undone (a rollback does not move a ` +
        "primary; the set's priorities may have moved it back already)";
    case "remove_directory":
      return `${o.id}: ${t.host}:${t.params.path} was removed; a rollback cannot bring it back`;
    case "update_metadata":
      // The status is recorded again, as found, once the rollback has run (see planRollback).
      return [];
    case "generate_secret":
      return `${o.id}: the secret stays in the cluster's secrets store (a new deploy reuses it)`;
    case "create_user":
      return `${o.id}: the user stays in the members' data ` +
        "(undone only when their data directories are removed)";
    case "set_parameter":
      return `${o.id}: ${t.params.name} stays ${t.params.value} until ${t.name} restarts ` +
        "(tlsMode only moves towards requireTLS at runtime)";
    case "add_members": {
      // The members it added leave the set again (a rollback of a scale-out cut off before it
      // recorded them; rollback_build.ts refuses the others), in the reverse of the order they
      // joined (arbiters first), so each config on the way is one the addition passed through.
      const add = addOrder(JSON.parse(t.params.add) as { host: string; arbiterOnly?: boolean }[])
        .map((m) => m.host).reverse();
      const members = [...JSON.parse(t.params.members) as string[], ...add];
      return [op({
        id: `undo-${o.id}`,
        type: "remove_members",
        description: `Remove ${add.join(", ")} from replica set ${t.name} (added by ${o.id})`,
        target: {
          ...t,
          params: { remove: JSON.stringify(add), members: JSON.stringify(members) },
        },
        changes: add.map((h) => change("replica_set_member", `${t.name}/${h}`, "delete")),
        depends_on: [],
        estimated_ms: EST.election,
      })];
    }
    case "set_default_write_concern":
      return `${o.id}: the cluster-wide default write concern stays (MongoDB cannot unset one)`;
    case "remove_shard":
      return `${o.id}: shard ${t.name} stays removed (a scale-out adds a shard again)`;
    case "remove_members": {
      if (ctx.completed.has(o.id)) {
        return `${o.id}: the members stay out of the set's config (adding them is a scale-out)`;
      }
      // Cut off (or failed) before it finished: its replSetReconfig may not have run. The
      // rollback is marked done only if the set still lists every member it was to take out
      // (rollback_build.ts refuses a scale-in that got further); a primary it stepped down
      // stays a secondary.
      const listed = JSON.parse(t.params.remove) as string[];
      const fix = `\`mup cluster scale-in ${ctx.cluster} ${
        listed.map((m) => `-N ${m}`).join(" ")
      }\` finishes their removal and records it`;
      ctx.checks.push(check(
        `${o.id}-undone`,
        "set_lists_members",
        t.name,
        `replica set ${t.name} still lists ${listed.join(", ")} (${o.id} stopped before it ` +
          "finished), at a config version no earlier reconfig can replace",
        { members: JSON.parse(t.params.members), listed, fix },
      ));
      return `${o.id}: stopped before it finished: ${listed.join(", ")} stay in ${t.name} and ` +
        "in the metadata, running, once the rollback has checked that the set still lists them " +
        "(it installs the same members at the next config version, so that no reconfig the " +
        "scale-in sent can still take one out); a primary it stepped down is not made primary " +
        "again by the rollback (the set's priorities may elect it again)";
    }
    case "download_binary":
      return []; // the download cache is shared by every cluster: kept
    case "wait_for_process":
    case "verify_health":
    case "wait_for_primary":
    case "wait_for_member_state":
      return []; // read-only
    default:
      return `${o.id}: a ${o.type} operation cannot be undone by a rollback`;
  }
}
