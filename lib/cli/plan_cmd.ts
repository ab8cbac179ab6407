import { Command } from "@commander-js/extra-typings";
import { toDot } from "../graph/mod.ts";
import { operationLabels, planCriticalPath } from "../plan/graph.ts";
import { allOperations, type Plan } from "../plan/schema.ts";
import { checkIdentifier } from "../util/ident.ts";
import { renderPlan } from "../render/plan_text.ts";
import { plural } from "../util/format.ts";
import { MupError } from "../errors.ts";
import { type CliContext, print, printJson, printJsonError } from "./context.ts";
import { diffCommand } from "./diff_cmd.ts";
import { planListCommand } from "./plan_list_cmd.ts";
import { applyCommandOptions, runApply } from "./apply_cli.ts";
import { runResume } from "./resume_cli.ts";
import { destructive } from "./confirm.ts";
import { notApplicable } from "./plan_applicable.ts";
import { unfinishedApply } from "../state/undeployed.ts";
import { START_CHECKPOINT } from "../plan/rollback_build.ts";
import * as path from "node:path";
import { blockingIssues, invalidPlanError, readPlanText } from "../plan/store.ts";
import { readUserText } from "../util/read_text.ts";

/**
 * `--expect-hash`: the content hash proves only that a plan was not changed after it was sealed,
 * not who made it (anyone can reseal an edited plan). Naming the reviewed hash ties an apply to
 * exactly the plan that was reviewed. `sha256:` may be left out.
 */
function checkExpectedHash(plan: Plan, file: string, expected: string): void {
  const want = expected.trim().toLowerCase().replace(/^(sha256:)?/, "sha256:");
  if (plan.content_hash === want) return;
  throw new MupError(
    `plan ${plan.plan_id} (${file}) has content hash ${plan.content_hash}, not the expected ${want}; refusing to apply a plan other than the one reviewed`,
    {
      hint: "review this plan (`mup plan show " + plan.plan_id +
        "` prints its hash) or apply the plan that was reviewed",
      details: {
        plan_id: plan.plan_id,
        check: "expect_hash",
        expected: want,
        actual: plan.content_hash,
      },
    },
  );
}

export function planCommand(ctx: CliContext, extra: (cmd: Command) => void = () => {}): Command {
  const cmd = new Command("plan").description("Inspect, validate and manage saved plans");

  cmd.command("show")
    .description("Show a plan: by file path, plan ID, or cluster name (its newest plan)")
    .argument("<plan>", "plan ID, path to a plan file, or cluster name")
    .option(
      "--json",
      "print the plan document (as stored: whether apply takes it now is a note on stderr; " +
        "`plan validate --applicable --json` gives it as fields)",
    )
    .option("--all", "list every operation line, also on large clusters")
    .action(async (ref, opts) => {
      // A plan that parses but fails validation is still shown (with its errors, exit 1): a
      // stuck apply's plan must be readable. One that cannot be read or graphed is refused.
      const file = await ctx.store.resolve(ref);
      const check = await ctx.store.check(await readPlanText(file), file, { here: true });
      const errors = blockingIssues(check);
      // --json keeps its one document: the plan, or the error (load's) for one not valid.
      if (!check.plan || !check.dag || (opts.json && errors.length)) {
        throw invalidPlanError(file, errors);
      }
      const { plan, dag } = check;
      if (opts.json) {
        // The document stays the plan, byte for byte what apply reads; the note goes to stderr.
        printJson(plan);
        const refusal = await notApplicable(ctx, plan, file);
        if (refusal) console.error(`Note: ${refusal.said}: ${refusal.message}`);
        return;
      }
      print(renderPlan(plan, { path: file, all: opts.all, dag }));
      if (errors.length) {
        // After the plan, where a terminal leaves it in sight; its hash is the one it claims.
        print(
          `\n✗ NOT VALID: apply and resume refuse this plan (${
            plural(errors.length, "error")
          }):\n` +
            errors.map((e) => `  • ${e.message}`).join("\n"),
        );
        throw new MupError(`plan ${file} is not valid (${plural(errors.length, "error")})`, {
          hint: `\`mup plan validate ${file}\` lists every problem; plan again with the ` +
            "command that made it (a plan is applied as mup wrote it, never edited)",
        });
      }
      // The document is valid; whether apply takes it now is another matter: said beside it.
      const refusal = await notApplicable(ctx, plan, file);
      if (refusal) print(`Note: ${refusal.said}: ${refusal.message}`);
    });

  planListCommand(cmd, ctx);

  cmd.command("validate")
    .description(
      "Validate a plan file: format version, schema, content hash, dependency graph, pre-flight results",
    )
    .argument("<plan>", "plan file, plan ID or cluster name")
    .option(
      "--applicable",
      "also exit 1 when the plan is valid but `plan apply` refuses it now (stale, blocked, " +
        "another plan stored under its ID): a CI gate before the apply; an applied plan passes " +
        "(apply has nothing left to do); reads mup's records only: no host is reached, so apply's " +
        "checks of SSH and servers (and of --host-gone hosts) still come at apply time",
    )
    .option("--json", "machine-readable output")
    .action(async (ref, opts) => {
      const file = await ctx.store.resolve(ref);
      const check = await ctx.store.check(await readPlanText(file), file);
      // A sound plan that apply refuses now (plan list: applied, stale, blocked) says so, as a
      // warning: the document is valid, the world around it changed.
      const refusal = check.plan && !check.issues.some((i) => i.severity === "error")
        ? await notApplicable(ctx, check.plan, file)
        : undefined;
      if (refusal) {
        check.issues.push({
          code: refusal.status,
          severity: "warning",
          message: `${refusal.said}: ${refusal.message}`,
        });
      }
      const errors = check.issues.filter((i) => i.severity === "error");
      if (opts.json && errors.length) {
        // The error document, with the validation result's fields kept for scripts.
        printJsonError({
          type: "error",
          error: `${file}: plan is not valid (${plural(errors.length, "error")})`,
          hint: "regenerate the plan; do not edit plan files",
          file,
          valid: false,
          issues: check.issues,
          ...(check.plan ? { plan_id: check.plan.plan_id } : {}),
        });
      } else if (opts.json) {
        printJson({
          file,
          valid: true,
          // Whether `plan apply` takes it now (a CI gate checks this, not only `valid`).
          applicable: !refusal,
          ...(refusal ? { reason: refusal.status } : {}),
          issues: check.issues,
        });
      } else {
        for (const i of check.issues) print(`${i.severity === "error" ? "✗" : "!"} ${i.message}`);
        print(
          errors.length
            ? `✗ ${file}: plan is not valid (${errors.length} error${errors.length > 1 ? "s" : ""})`
            : refusal
            ? `✓ ${file}: plan is valid, but ${refusal.said}`
            : `✓ ${file}: plan is valid`,
        );
      }
      if (errors.length) ctx.exitCode = 1;
      else if (opts.applicable && refusal && refusal.status !== "applied") ctx.exitCode = 1;
    });

  cmd.command("delete")
    .description("Delete a saved plan")
    .argument("<plan-id>")
    .option("--json", "machine-readable output")
    .action(async (id, opts) => {
      // The plan of an apply that can still be resumed (or rolled back) is what those read.
      const file = await ctx.store.findById(id);
      const clusterDir = file ? path.dirname(path.dirname(file)) : undefined;
      const u = clusterDir ? await unfinishedApply(clusterDir) : undefined;
      if (u && u.state.plan_id === id) {
        const cluster = path.basename(clusterDir!);
        throw new MupError(
          `plan ${id} is the plan of apply ${u.state.state_id}, which is ${u.outcome}: resume and rollback read it`,
          {
            hint: `complete it with \`mup plan resume ${cluster}\` or undo it with \`mup state ` +
              `rollback ${cluster} --checkpoint ${START_CHECKPOINT}\` (\`mup state checkpoints ` +
              `${cluster}\` lists later points to return to), then delete the plan`,
          },
        );
      }
      const p = await ctx.store.delete(id);
      if (opts.json) printJson({ deleted: id, path: p });
      else print(`Deleted plan ${id} (${p})`);
    });

  cmd.command("export")
    .description("Write a saved plan to standard output, for sharing or review")
    .argument("<plan>", "plan ID or cluster name")
    .option("--json", "failures as a JSON error document (the plan itself is JSON)")
    .action(async (ref) => {
      const { path } = await ctx.store.load(ref);
      await Deno.stdout.write(await Deno.readFile(path));
    });

  cmd.command("import")
    .description(
      "Read a plan (a file, or standard input), validate it, and store it with its cluster",
    )
    .argument("[file]", "the plan file `mup plan export` wrote (default: standard input)")
    .option("--json", "machine-readable output")
    .action(async (file, opts) => {
      const source = file ?? "<stdin>";
      // Said in the messages below as where the plan came from.
      const from = file ? `the plan in ${file}` : "the plan on standard input";
      const { text } = await readUserText(source, {
        what: "plan",
        hint: file
          ? "give the plan file `mup plan export <plan-id>` wrote"
          : "give a plan file: `mup plan import plan-<id>.json` (or on standard input)",
      });
      const check = await ctx.store.check(text, source, { here: true });
      const errors = blockingIssues(check);
      if (!check.plan || errors.length) {
        throw new MupError(
          `${from} is not valid; nothing was imported:\n${
            errors.map((e) => `  • ${e.message}`).join("\n")
          }`,
          {
            hint: "import the file `mup plan export <plan-id>` wrote, unchanged, into a store " +
              "whose paths it names (a plan edited after it was sealed is refused, and so is one " +
              "made under another MUP_HOME: its paths are that store's); or plan again where the " +
              "cluster is managed",
          },
        );
      }
      const plan = check.plan;
      const existing = await ctx.store.findById(plan.plan_id);
      if (existing) {
        const stored = await Deno.readTextFile(existing);
        if (stored !== text) {
          // Plan IDs name plans in reviews and audit trails: never silently swap one for another.
          const storedHash = /"content_hash": "([^"]+)"\n\}\n?$/.exec(stored)?.[1] ?? "unknown";
          throw new MupError(
            `plan ${plan.plan_id} is already stored as ${existing} with other content (content hash ${storedHash}); ${from} (content hash ${plan.content_hash}, cluster ${plan.cluster_name}) was not imported`,
            {
              hint:
                `compare them with \`mup plan show ${plan.plan_id}\`; to replace the stored plan, ` +
                `delete it first: \`mup plan delete ${plan.plan_id}\``,
              details: {
                plan_id: plan.plan_id,
                stored: { path: existing, content_hash: storedHash },
                imported: { content_hash: plan.content_hash, cluster: plan.cluster_name },
              },
            },
          );
        }
        if (opts.json) {
          return printJson({ imported: plan.plan_id, path: existing, unchanged: true });
        }
        return print(
          `Plan ${plan.plan_id} is already stored, identical: ${existing} (nothing to do)`,
        );
      }
      const saved = await ctx.store.saveText(check.plan, text);
      // A plan written with its pre-flight errors (--plan-file) is kept to be read, not applied.
      const invalid = !check.plan.validation.valid;
      if (opts.json) {
        return printJson({
          imported: check.plan.plan_id,
          path: saved,
          ...(invalid ? { invalid: true } : {}),
        });
      }
      print(`Imported plan ${check.plan.plan_id} for cluster ${check.plan.cluster_name}: ${saved}`);
      if (invalid) {
        print(
          `Warning: it failed pre-flight when it was made (${check.plan.validation.errors.length} error(s); \`mup plan show ${check.plan.plan_id}\` lists them): plan apply refuses ` +
            "it; plan again once they are fixed",
        );
      }
    });

  diffCommand(cmd, ctx);

  const graph = cmd.command("graph")
    .description("The plan's dependency graph as Graphviz DOT (render with `dot -Tsvg`) or JSON")
    .argument("<plan>", "plan ID, file or cluster name")
    .option("--format <format>", "dot or json", "dot")
    .option("--json", "the same as --format json");
  graph.action(async (ref, opts) => {
    // Checked before the plan is read and validated, which takes a while on large plans;
    // also with --json, which a wrong --format does not pass unsaid (tester46).
    if (opts.format !== "dot" && opts.format !== "json") {
      throw new MupError(`unknown graph format "${opts.format}"`, {
        hint: "use --format dot or --format json",
      });
    }
    // --format dot given beside --json asks for two things (tester49).
    if (opts.json && opts.format === "dot" && graph.getOptionValueSource("format") === "cli") {
      throw new MupError("--format dot and --json ask for two formats", {
        hint: "give one: --format dot, or --json (the same as --format json)",
      });
    }
    if (opts.json) opts.format = "json";
    const { plan, dag } = await ctx.store.load(ref);
    const cp = planCriticalPath(plan);
    if (opts.format === "dot") {
      const label = operationLabels(plan);
      return print(toDot(dag, { name: plan.plan_id, highlight: cp.path, label }).trimEnd());
    }
    printJson({
      plan_id: plan.plan_id,
      nodes: allOperations(plan).map((o) => ({
        id: o.id,
        type: o.type,
        phase: dag.attrs(o.id).group,
        parallel: o.parallel,
        estimated_ms: o.estimated_ms,
        depends_on: o.depends_on,
      })),
      edges: dag.graph.mapEdges((_e, _a, from, to) => ({ from, to })),
      order: dag.topologicalOrder(),
      critical_path: cp,
    });
  });

  const applyCmd = cmd.command("apply")
    .description("Apply a saved plan (file, plan ID, or cluster name for its newest plan)")
    .argument("[plan]", "plan file, plan ID or cluster name")
    .option("--plan-id <id>", "the plan to apply, by ID (for the audit trail)")
    .option(
      "--expect-hash <hash>",
      "refuse any plan but the one with this content hash (as `plan show` prints it): apply exactly what was reviewed",
    )
    .option("--json", "NDJSON events instead of text");
  applyCommandOptions(applyCmd);
  applyCmd.action(async (ref, opts) => {
    const which = opts.planId ?? ref;
    if (!which) {
      throw new MupError("name the plan to apply", {
        hint: "mup plan apply <plan-file|plan-id|cluster>",
      });
    }
    if (opts.planId) checkIdentifier("plan ID", opts.planId);
    const { plan, path: file } = await ctx.store.load(which);
    await ctx.store.refuseOtherWithId(plan, file);
    if (opts.expectHash !== undefined) checkExpectedHash(plan, file, opts.expectHash);
    // A cluster name picks its newest plan, which may be a destroy made only to read its
    // review: data is removed only by a plan named exactly.
    const byCluster = which === plan.cluster_name && which !== plan.plan_id && !opts.planId;
    if (byCluster && destructive(plan)) {
      throw new MupError(
        `the newest plan of cluster ${which} is a ${plan.operation} (${plan.plan_id}, made ` +
          `${plan.created_at}): a plan that removes data is applied only by its plan ID`,
        { hint: `\`mup plan show ${plan.plan_id}\`, then \`mup plan apply ${plan.plan_id}\`` },
      );
    }
    // A plan file from outside the store is stored first, as `plan import` does: the apply
    // history then names a plan the store keeps (tester51).
    // (One that failed pre-flight is not: apply refuses it, and the store keeps no such plan.)
    const stored = plan.validation.valid ? await ctx.store.adopt(plan, file) : file;
    ctx.exitCode = await runApply(ctx, plan, stored, opts);
  });

  const resumeCmd = cmd.command("resume")
    .description(
      "Continue a failed or paused apply from its first unfinished operation; a destroy, or a " +
        "rollback that removes directories, asks for the cluster's name again unless given " +
        "--auto-approve here",
    )
    .argument("[cluster]", "cluster whose current apply to resume")
    .option("--state-id <id>", "the apply state to resume")
    .option(
      "--no-hooks",
      "run none of the plan's hooks (one that fails every time must not keep the apply from " +
        "finishing); the execution log names those skipped",
    )
    .option("--json", "NDJSON events instead of text");
  applyCommandOptions(resumeCmd);
  resumeCmd.action(async (cluster, opts) => {
    ctx.exitCode = await runResume(ctx, cluster, opts.stateId, opts);
  });

  extra(cmd as unknown as Command);
  return cmd as unknown as Command;
}
