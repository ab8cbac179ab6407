import * as path from "node:path";
import type { Executor } from "../executor/executor.ts";
import { isProcessFile } from "../topology/layout.ts";
import { type Operation, type OperationContext, param } from "./operation.ts";
import { firstFew } from "../util/format.ts";
import { mustKeep } from "./removal_guard.ts";

/** The entries of a directory, or undefined when it cannot be listed (absent). */
async function entries(ex: Executor, dir: string): Promise<string[] | undefined> {
  // NUL-separated: a name may hold a newline (ls would make two names of it). `dir` is an
  // absolute path (plan_paths.ts), never taken for an option.
  const r = await ex.run(["find", dir, "-mindepth", "1", "-maxdepth", "1", "-print0"], {
    timeoutMs: 30_000,
  });
  // In name order, as ls gave them: the notices list them so.
  return r.code === 0
    ? r.stdout.split("\0").filter(Boolean).map((e) => path.posix.basename(e)).sort()
    : undefined;
}

/** A name as the notice shows it: quoted (JSON) when it holds a control character or a comma. */
function shownName(name: string): string {
  // deno-lint-ignore no-control-regex
  return /[\x00-\x1f\x7f,"]/.test(name) ? JSON.stringify(name) : name;
}

/**
 * Which entries of the directory are mup's own files, or undefined when the whole directory goes
 * (or, if_empty, none of it): own_files (a JSON array of basenames, the secrets mup installs)
 * or process_files (isProcessFile).
 */
function ownFiles(ctx: OperationContext): ((name: string) => boolean) | undefined {
  const params = ctx.op.target.params;
  if (params.own_files !== undefined) {
    const own: string[] = JSON.parse(params.own_files);
    // With the temporary copy a write cut off may leave (the executors' `<file>.mup-tmp…`).
    return (name) => own.some((o) => name === o || name.startsWith(`${o}.mup-tmp`));
  }
  return params.process_files === "true" ? isProcessFile : undefined;
}

/**
 * What a kept directory holds, for its notice: the retained data (retained_data: a JSON array of
 * paths), the entries that are none of this cluster's, and the cluster's own directories inside
 * it that were kept and said so on their own line, above (inner: a JSON array of paths).
 * Undefined for a shared parent (if_empty) that holds only the retained data (the plan's warning
 * names it) or such kept directories: nothing new to say.
 */
function holds(ctx: OperationContext, dir: string, others: string[]): string | undefined {
  const params = ctx.op.target.params;
  const retained: string[] = JSON.parse(params.retained_data ?? "[]");
  const inner: string[] = JSON.parse(params.inner ?? "[]");
  const at = (list: string[], e: string) =>
    list.some((d) =>
      d === dir || d === path.join(dir, e) || d.startsWith(path.join(dir, e) + path.sep)
    );
  const data = others.filter((e) => at(retained, e));
  const mine = others.filter((e) => !at(retained, e) && at(inner, e));
  const foreign = others.filter((e) => !at(retained, e) && !at(inner, e));
  const parent = params.if_empty === "true";
  if (parent && !foreign.length) return undefined;
  const kept = [
    ...(data.length ? ["the retained data"] : []),
    ...(foreign.length
      ? [
        parent
          ? `entries that are not this cluster's (${firstFew(foreign.map(shownName))})`
          : `files mup did not make (${firstFew(foreign.map(shownName))})`,
      ]
      : []),
    ...(mine.length && !parent
      ? [`the directories kept above (${firstFew(mine.map(shownName))})`]
      : []),
  ];
  return kept.length ? `it holds ${kept.join(" and ")}` : undefined;
}

/**
 * Removes a directory (or file) and everything in it. With if_empty, only an empty directory
 * (a parent of the layout that may still hold another cluster's or retained data). With
 * process_files, only the files mup's processes write (isProcessFile: mongod.log and its rotated
 * copies, mongod.conf, mongod.pid), with own_files only the files named (the keyfile and
 * certificates mup installs), then the directory if nothing else is left: a deploy, log, config
 * or secrets directory may hold files that are not mup's, and (retained_data: a JSON array of
 * paths) the data `--retain-data` keeps. What stays is the outcome's notice:
 * `kept <host>:<dir>: it holds …` (for if_empty only with report_kept, and unless it holds only
 * the retained data or the cluster's own directories kept, `inner`, which say so themselves).
 * Whatever the plan says, what another cluster of the store uses and a data directory a live
 * mongod holds are kept, with a notice (removal_guard.ts).
 */
export const removeDirectory: Operation = {
  async isDone(ctx) {
    const ex = ctx.executors.forHost(ctx.op.target.host!);
    const p = param(ctx, "path");
    if (!(await ex.exists(p))) return true;
    const ours = ownFiles(ctx);
    if (!ours) return false;
    // Done once only other files are left (an empty directory still needs its rmdir).
    const left = await entries(ex, p);
    return left !== undefined && left.length > 0 && !left.some(ours);
  },
  async run(ctx) {
    const ex = ctx.executors.forHost(ctx.op.target.host!);
    const host = ctx.op.target.host;
    const p = param(ctx, "path");
    const isOurs = ownFiles(ctx);
    const mode = isOurs ? "files" : ctx.op.target.params.if_empty === "true" ? "if_empty" : "all";
    // Another cluster's, or under a live mongod: kept, whatever the plan says; the rest goes on.
    const why = await mustKeep(ctx, ex, p, mode);
    if (why) {
      return { output: `kept ${p}: ${why}`, notice: `kept ${host}:${p}: ${why}`, changes: [] };
    }
    if (isOurs) {
      const all = (await entries(ex, p)) ?? [];
      const ours = all.filter(isOurs);
      for (const name of ours) await ex.remove(path.join(p, name));
      const others = all.filter((e) => !isOurs(e));
      if (!others.length) {
        const r = await ex.run(["rmdir", "--", p]);
        if (r.code === 0) return { output: `removed ${p}` };
      }
      const removed = `removed ${ours.length} file${ours.length === 1 ? "" : "s"} of mup's`;
      return {
        output: `${removed} from ${host}:${p}; kept the directory`,
        notice: `kept ${host}:${p}: ${holds(ctx, p, others) ?? "it could not be removed"}`,
        changes: ours.map((name) => ({
          resource_type: "file",
          resource_id: `${host}:${path.join(p, name)}`,
          action: "delete" as const,
        })),
      };
    }
    if (ctx.op.target.params.if_empty === "true") {
      const r = await ex.run(["rmdir", "--", p]);
      if (r.code === 0) return { output: `removed ${p}` };
      // Only a destroy says what is left (report_kept): it knows the retained data and its own
      // directories inside; a rollback's tidying does not, and leaves what it did not make,
      // saying only that it kept it ("✓ Remove … if empty" alone left it unsaid: tester50).
      if (ctx.op.target.params.report_kept !== "true") {
        return {
          output: `kept ${p}: not empty`,
          notice: `kept ${host}:${p}: not empty`,
          changes: [],
        };
      }
      const left = await entries(ex, p);
      const what = left?.length ? holds(ctx, p, left) : "it could not be removed";
      return {
        output: `kept ${p}: not empty`,
        ...(what ? { notice: `kept ${host}:${p}: ${what}` } : {}),
        changes: [],
      };
    }
    await ex.remove(p);
    return { output: `removed ${p}` };
  },
};
