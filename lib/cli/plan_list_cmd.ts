import type { Command } from "@commander-js/extra-typings";
import { planStatuses } from "../apply/stale.ts";
import { table } from "../util/format.ts";
import { type CliContext, print, printJson } from "./context.ts";
import { requireCluster } from "./resume_cli.ts";

/**
 * `mup plan list [cluster]`: every saved plan with what it does and what it is worth now (its
 * status, lib/apply/stale.ts), as a table with a note under it for each plan apply would refuse
 * and why, or with --json as one array of snake_case documents.
 */
export function planListCommand(cmd: Command, ctx: CliContext): void {
  cmd.command("list")
    .description(
      "List saved plans, oldest first, with what each does (deploy, stop, reconfigure…) and its status: valid, modified (edited after mup wrote it: apply refuses it), invalid (pre-flight failed), applied, rolled_back (applied, then undone by state rollback), applying (a mup applies or resumes it now), resumable (its apply is paused, failed or cut off: plan resume continues it), declined (not confirmed; the cluster's next plan replaces and removes it), superseded (a newer plan exists), stale (the cluster changed since), blocked (another cluster has since taken a port or directory it needs: apply refuses it), unreadable (a damaged plan file), unknown (an apply state is unreadable)",
    )
    .argument("[cluster]", "only this cluster's plans")
    .option("--json", "machine-readable output")
    .action(async (cluster, opts) => {
      if (cluster) await requireCluster(ctx, cluster);
      const { entries, unreadable } = await ctx.store.scan(cluster);
      const { statuses, holes, blocked } = await planStatuses(
        entries,
        (c) => ctx.store.clusterDir(c),
      );
      const list = entries.map((e, i) => ({ ...e, status: statuses[i] as string }));
      // Scripts read snake_case keys, as in every other JSON mup prints. `preflight_valid` is
      // the pre-flight's verdict when the plan was made; `status` is what it is worth now.
      if (opts.json) {
        return printJson([
          ...list.map((e) => ({
            plan_id: e.planId,
            cluster: e.cluster,
            path: e.path,
            created_at: e.createdAt,
            operation: e.operation,
            operations: e.operations,
            status: e.status,
            preflight_valid: e.valid,
            content_hash: e.contentHash,
            base_state: e.baseState,
            ...(e.status === "blocked" ? { clashes: blocked.get(e.planId) } : {}),
          })),
          ...unreadable.map((u) => ({
            plan_id: null,
            cluster: u.cluster,
            path: u.path,
            status: "unreadable",
            error: u.reason,
          })),
        ]);
      }
      if (!list.length && !unreadable.length) {
        return print(cluster ? `No plans for cluster ${cluster}.` : "No saved plans.");
      }
      const row = (e: (typeof list)[number]) => [
        e.planId,
        e.cluster,
        e.operation,
        e.createdAt,
        `${e.operations}`,
        e.status,
      ];
      print(table([16, 20, 13, 26, 6], [
        ["PLAN ID", "CLUSTER", "OPERATION", "CREATED", "OPS", "STATUS"],
        ...list.map(row),
        ...unreadable.map((u) => ["?", u.cluster, "?", "?", "?", "unreadable"]),
      ]));
      for (const u of unreadable) {
        print(`\nunreadable: ${u.path}: ${u.reason} (restore it, or move it away)`);
      }
      for (const e of list.filter((e) => e.status === "modified")) {
        print(
          `\nmodified: ${e.path} was edited after mup wrote it (its content hash no longer ` +
            "holds), so apply refuses it: restore the file as mup wrote it, or plan again",
        );
      }
      for (const e of list.filter((e) => e.status === "blocked")) {
        print(
          `\nblocked: plan ${e.planId} would take what another cluster holds, so apply refuses ` +
            `it; plan again with other ports and directories:\n${
              (blocked.get(e.planId) ?? []).map((c) => `  • ${c}`).join("\n")
            }`,
        );
      }
      for (const [c, states] of holes) {
        print(
          `\nunknown: the apply history of cluster ${c} has holes (${
            states.map((s) => s.file).join(", ")
          } cannot be read), so whether its plans were applied, or are being applied, is not ` +
            "known; restore those files, or move them away if those applies do not matter",
        );
      }
    });
}
