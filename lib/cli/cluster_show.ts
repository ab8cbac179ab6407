/** `mup cluster list` (and the commands that need a recorded cluster's metadata): read-only. */
import type { Command } from "@commander-js/extra-typings";
import * as path from "node:path";
import { MupError } from "../errors.ts";
import { listProcesses } from "../plan/processes.ts";
import { type ClusterMeta, metaCopyPath, metaPath, readMeta } from "../state/meta.ts";
import { StateStore } from "../state/store.ts";
import { interruption, unreadableLockNote } from "../state/lock.ts";
import { recordedApply, undeployedApply, undeployedStatus } from "../state/undeployed.ts";
import { retainedData } from "../state/retained.ts";
import { parsePlanText } from "../plan/parse.ts";
import { table } from "../util/format.ts";
import { executorKey } from "../executor/factory.ts";
import { type CliContext, print, printJson } from "./context.ts";
import { addShowConfig } from "./show_config.ts";

/**
 * Whether `name` can be a cluster's: it is a directory under the storage root, so nothing else
 * (`..`, `/`) may reach a path.
 */
export function isClusterName(name: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(name);
}

/** The recorded cluster, or a clear error naming the clusters there are. */
export async function requireMeta(ctx: CliContext, name: string): Promise<ClusterMeta> {
  if (!isClusterName(name)) {
    throw new MupError(`invalid cluster name "${name}"`, {
      hint: "cluster names use letters, digits, '.', '_' and '-'; `mup cluster list` shows them",
    });
  }
  const meta = await readMeta(ctx.store.clusterDir(name));
  if (!meta) {
    const lost = await metadataLost(ctx, name);
    if (lost) throw lost;
    // A first deploy that did not finish may have left processes running: say how to end it.
    // One rolled back left files (at least the secrets store): say what removes them.
    const u = await undeployedApply(ctx.store.clusterDir(name));
    if (u?.outcome === "rolled_back") {
      throw new MupError(
        `no deployed cluster named "${name}": its deploy ${u.state.state_id} was rolled back ` +
          `to ${u.state.rolled_back_to ?? "a checkpoint"}; what it left (secrets, files) stays`,
        {
          hint: `\`mup cluster deploy ${name} …\` deploys it again; ` +
            `\`mup cluster destroy ${name}\` removes what is left`,
          details: { state_id: u.state.state_id, apply_status: u.outcome },
        },
      );
    }
    if (u) {
      const how = u.outcome === "interrupted"
        ? `was interrupted (${u.interrupted!.reason.split(";")[0]})`
        : u.outcome === "running"
        ? "is still running"
        : u.outcome;
      throw new MupError(
        `no deployed cluster named "${name}": its apply ${u.state.state_id} ` +
          `(${u.state.operation}) ${how}; its processes may be running`,
        {
          hint: `\`mup plan resume ${name}\` continues it; ` +
            `\`mup state rollback ${name} --checkpoint start\` undoes it; ` +
            `\`mup cluster destroy ${name}\` removes it`,
          details: { state_id: u.state.state_id, apply_status: u.outcome },
        },
      );
    }
    // Destroyed with its data kept: where the data is, and what deploys onto it.
    const kept = (await retainedData(ctx.store.root)).find((r) => r.name === name);
    if (kept) {
      throw new MupError(
        `no deployed cluster named "${name}": it was destroyed (${kept.destroyed_at}), its data ` +
          `kept in ${kept.data_dirs.join(", ")}`,
        {
          hint: `\`mup cluster deploy ${name} <topology>\` deploys it onto that data again ` +
            `(the destroyed cluster's topology is in its archived plan, ${
              path.join(kept.archive, "plans", `${kept.plan_id}.json`)
            }); \`mup cluster list\` shows it as destroyed, data kept`,
          details: { data_kept: kept.data_dirs, archive: kept.archive },
        },
      );
    }
    throw new MupError(`no deployed cluster named "${name}"`, {
      hint: "`mup cluster list` shows the clusters mup knows",
    });
  }
  return meta;
}

/**
 * The error for a cluster whose meta.yaml and mup's copy of it are both gone although it was
 * deployed (recordedApply): it is not a cluster never deployed, and destroying it as one would
 * remove a running cluster's data. Undefined when no apply shows it was deployed.
 */
async function metadataLost(ctx: CliContext, name: string): Promise<MupError | undefined> {
  const dir = ctx.store.clusterDir(name);
  const last = await recordedApply(dir);
  if (!last) return undefined;
  const plan = ctx.store.planPath(name, last.plan_id);
  return new MupError(
    `${metaPath(dir)} is missing, but cluster ${name} was deployed: its apply ` +
      `${last.state_id} (${last.operation}) ${last.status} at ${
        last.completed_at ?? last.updated_at
      }, and mup's copy of the metadata (${metaCopyPath(dir)}) is gone too; its processes ` +
      "may be running",
    {
      hint: "restore meta.yaml from a backup of $MUP_HOME; without one, " +
        `\`mup cluster deploy ${name} <topology> --version <version>\` with the cluster's ` +
        `topology as it is now (that apply's plan holds it: ${plan}) finds what runs and ` +
        "records it again",
      details: { state_id: last.state_id, check: "metadata_lost" },
    },
  );
}

/**
 * Every cluster with a meta.yaml (destroyed ones have none and are not listed), and every
 * cluster whose first deploy did not finish or was rolled back, which left files behind (status
 * `not deployed (apply <id> <outcome>)`; `cluster destroy` removes them).
 */
export async function listClusters(ctx: CliContext) {
  const out = [];
  for (const name of await ctx.store.clusters()) {
    const dir = ctx.store.clusterDir(name);
    let meta;
    try {
      meta = await readMeta(dir);
    } catch (e) {
      // A damaged metadata file is shown, not skipped: the cluster still runs somewhere.
      out.push({
        name,
        // Unknown: null under --json ("-" in the table).
        kind: null,
        version: null,
        variant: null,
        status: /is missing, but/.test((e as Error).message)
          ? "metadata missing"
          : /was changed outside mup/.test((e as Error).message)
          ? "metadata edited"
          : "damaged metadata",
        hosts: [] as string[],
        processes: 0,
        error: (e as Error).message,
        ...(e instanceof MupError && e.options.hint ? { hint: e.options.hint } : {}),
        last_apply: undefined,
      });
      continue;
    }
    if (!meta) {
      const lost = await metadataLost(ctx, name);
      if (lost) {
        out.push({
          name,
          kind: null,
          version: null,
          variant: null,
          status: "metadata missing",
          hosts: [] as string[],
          processes: 0,
          error: lost.message,
          hint: lost.options.hint,
          last_apply: undefined,
        });
        continue;
      }
      const u = await undeployedApply(dir);
      if (u) out.push(await undeployedRow(ctx, name, u));
      continue;
    }
    const store = new StateStore(dir);
    const id = await store.currentId();
    const current = id ? await store.load(id).catch(() => undefined) : undefined;
    // A rolled-back apply stays the cluster's current one, but the last apply is the rollback
    // that undid it (tester80): listed, with what it undid.
    const rollback = current?.status === "rolled_back" && current.rolled_back_by
      ? await store.load(current.rolled_back_by).catch(() => undefined)
      : undefined;
    const last = rollback ?? current;
    // A "running" apply whose mup is gone (kill -9) is interrupted, as `state show` says.
    const cut = last ? await interruption(dir, last) : undefined;
    const badLock = await unreadableLockNote(dir);
    out.push({
      name,
      kind: meta.kind,
      version: meta.version,
      variant: meta.variant,
      status: meta.status,
      hosts: [...new Set(meta.processes.map((p) => p.host))],
      processes: meta.processes.length,
      last_apply: last
        ? {
          state_id: last.state_id,
          operation: last.operation,
          status: cut ? "interrupted" : last.status,
          at: last.completed_at ?? last.updated_at,
          ...(rollback ? { rolled_back: current!.state_id } : {}),
        }
        : undefined,
      ...(badLock
        ? { lock_unreadable: { path: badLock.path, reason: badLock.reason, note: badLock.note } }
        : {}),
    });
  }
  // Destroyed with --retain-data, and not deployed again: the data is still on the hosts.
  for (const r of await retainedData(ctx.store.root)) {
    if (out.some((o) => o.name === r.name)) continue;
    out.push({
      name: r.name,
      kind: r.kind,
      version: r.version,
      variant: r.variant,
      status: "destroyed, data kept",
      hosts: r.hosts,
      processes: 0,
      data_kept: {
        directories: r.data_dirs,
        archive: r.archive,
        // Kept by the destroy (--retain-data: a deploy reuses it), or only by earlier scale-ins.
        kept_by: r.destroy_kept ? "destroy" : "scale-in",
      },
      last_apply: {
        state_id: r.state_id ?? r.plan_id,
        operation: "destroy",
        status: "completed",
        at: r.destroyed_at,
      },
    });
  }
  return out;
}

/** The list row of a cluster without metadata, described from its apply's plan. */
async function undeployedRow(
  ctx: CliContext,
  name: string,
  u: NonNullable<Awaited<ReturnType<typeof undeployedApply>>>,
) {
  const file = ctx.store.planPath(name, u.state.plan_id);
  const plan = await Deno.readTextFile(file).then(
    (t) => parsePlanText(t, file).plan,
    () => undefined,
  );
  const procs = plan
    ? listProcesses(plan.topology, path.join(ctx.store.clusterDir(name), "deploy"))
    : [];
  return {
    name,
    kind: plan?.kind ?? null,
    version: plan?.version ?? null,
    variant: plan?.variant ?? null,
    status: undeployedStatus(u),
    hosts: [...new Set(procs.map((p) => p.host))],
    processes: procs.length,
    last_apply: {
      state_id: u.state.state_id,
      operation: u.state.operation,
      status: u.outcome,
      at: u.state.updated_at,
    },
  };
}

/** Adds `show-config` and `list` to the `cluster` command (cluster_cmd.ts adds `display`). */
export function addShowCommands(cmd: Command, ctx: CliContext): void {
  addShowConfig(cmd, ctx);
  cmd.command("list")
    .description(
      "Every cluster mup has deployed: kind, version, variant, recorded status, hosts, processes, last " +
        "apply. The status is what mup recorded (the last plan applied), not a live check: " +
        "`mup cluster display <name>` asks the servers",
    )
    .option("--json", "machine-readable output")
    .action(async (opts) => {
      const rows = await listClusters(ctx);
      if (opts.json) return printJson(rows);
      if (!rows.length) return print("No clusters.");
      // RECORDED: what the last apply left, not what runs now (that is `cluster display`).
      print(table([16, 12, 9, 8, 9, 10, 10], [
        ["NAME", "KIND", "VERSION", "VARIANT", "RECORDED", "HOSTS", "PROCESSES", "LAST APPLY"],
        ...rows.map((r) => [
          r.name,
          r.kind ?? "-",
          r.version ?? "-",
          r.variant ?? "-",
          r.status,
          // Hosts, as a plan counts them: localhost and 127.0.0.1 are one.
          String(new Set(r.hosts.map(executorKey)).size),
          String(r.processes),
          r.last_apply
            ? `${r.last_apply.state_id} ${r.last_apply.operation} ${r.last_apply.status} ${r.last_apply.at}${
              "rolled_back" in r.last_apply && r.last_apply.rolled_back
                ? ` (undid ${r.last_apply.rolled_back})`
                : ""
            }`
            : "-",
        ]),
      ]));
      print(
        "\nRECORDED is what the last apply left; `mup cluster display <name>` asks the servers.",
      );
      for (const r of rows) {
        // Metadata that cannot be used: why, and the way back (the copy mup keeps).
        if ("error" in r && r.error) {
          print(`${r.name}: ${r.error}${"hint" in r && r.hint ? `; ${r.hint}` : ""}`);
        }
        if ("lock_unreadable" in r && r.lock_unreadable) {
          print(`${r.name}: ${r.lock_unreadable.note}.`);
        }
        if (!("data_kept" in r) || !r.data_kept) continue;
        print(
          r.data_kept.kept_by === "destroy"
            ? `${r.name}: destroyed with --retain-data; its data is kept in ${
              r.data_kept.directories.join(", ")
            }. A \`mup cluster deploy ${r.name}\` with these data_dir paths reuses it; remove ` +
              "them yourself when no longer needed."
            : `${r.name}: destroyed; the data of members its scale-in removed with ` +
              `--retain-data is kept in ${
                r.data_kept.directories.join(", ")
              }. No member runs on it: remove it yourself when no longer needed.`,
        );
      }
    });
}
