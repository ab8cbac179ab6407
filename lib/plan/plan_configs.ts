/**
 * The configurations a plan writes, checked against what mup generates for each process from
 * the plan's own topology. A plan file's content hash shows only that the file was not changed
 * after it was sealed, not who sealed it (see README, "not a signature"): someone who deletes
 * the `security:` block from a `generate_config` operation's content (or binds 0.0.0.0) and
 * seals the file again would otherwise have `plan apply` start an open server while the
 * metadata records `security.auth: true`. The sibling of plan_paths.ts, in its style: pure, and
 * each problem a validation error naming the operation, the process and the fix.
 *
 * The content a planner writes is mongo_config.ts renderConfig of the process with the
 * topology's security (deployConfigSecurity): a deploy or repair writes `config-<process>` in
 * the topology's TLS mode; `cluster tls enable|disable` (operation `tls-<action>`) writes
 * `config-<process>-<mode>` in the modes of its steps and ends every process on the target
 * mode, recording that mode in the metadata.
 */
import { allowedTopology } from "./added_entries.ts";
import * as path from "node:path";
import { hostKey } from "../topology/hosts.ts";
import { securityOf } from "../security/settings.ts";
import {
  configFilePath,
  deployConfigSecurity,
  renderConfig,
  type TlsStep,
} from "./mongo_config.ts";
import { configDbString, listProcesses, listReplicaSets, type ProcessSpec } from "./processes.ts";
import { remakeFix } from "./plan_paths.ts";
import type { Plan, PlannedOperation, ValidationIssue } from "./schema.ts";

/** The configuration modes each step of a `cluster tls` plan writes, and the one it ends on. */
const TLS_STEPS: Record<string, { modes: TlsStep[]; last: TlsStep; tls: boolean }> = {
  "tls-enable": { modes: ["allowTLS", "requireTLS"], last: "requireTLS", tls: true },
  "tls-disable": { modes: ["preferTLS", "allowTLS", "disabled"], last: "disabled", tls: false },
};

/**
 * "line 12 is `  bindIp: 0.0.0.0`, expected `  bindIp: localhost`": the first line where `found`
 * and `expected` differ (one of them may have ended).
 */
export function firstDifference(found: string, expected: string): string {
  // A file's last line ends with a newline: it has no empty line after it.
  const lines = (text: string) => (text.endsWith("\n") ? text.slice(0, -1) : text).split("\n");
  const a = lines(found);
  const b = lines(expected);
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  const show = (lines: string[]) =>
    i < lines.length ? JSON.stringify(lines[i]) : "the end of the file";
  return `line ${i + 1} is ${show(a)}, expected ${show(b)}`;
}

/**
 * Every problem with the configurations `plan` writes, as validation errors (code
 * `plan_config`):
 *
 * - each `generate_config` names a process of the plan's topology (its target), has the ID the
 *   planner gives it (`config-<process>`, or `config-<process>-<mode>` in a `cluster tls` plan,
 *   in one of that plan's modes), stages it as `…/staging/<process>.conf`, and its `content` is
 *   exactly renderConfig's for that process (first differing line named);
 * - a file uploaded to a process's configuration path comes from the staged file of one of that
 *   process's `generate_config` operations (not from a secret or another file);
 * - a `cluster tls` plan ends each process it configures on the target mode, starts from the
 *   opposite mode in its topology, and records the target in the metadata.
 *
 * Linear in the operations: one render per generate_config, compared as strings. `topology`
 * names where the processes come from in the messages ("this plan's topology").
 */
export function planConfigIssues(
  plan: Plan,
  opts: { topology?: string } = {},
): ValidationIssue[] {
  const ops = plan.phases.flatMap((p) => p.operations);
  const configs = ops.filter((o) => o.type === "generate_config");
  const uploads = ops.filter((o) =>
    o.type === "upload_file" && o.target.params.kind !== "binaries"
  );
  if (!configs.length && !uploads.length) return [];
  const issues: ValidationIssue[] = [];
  const fix = remakeFix(plan);
  const error = (message: string, host?: string) =>
    issues.push({
      code: "plan_config",
      severity: "error",
      message: `${message}. ${fix}`,
      ...(host ? { host } : {}),
    });

  const procs = listProcesses(plan.topology, plan.deploy_dir);
  const byId = new Map(procs.map((p) => [p.id, p]));
  const configDb = configDbString(listReplicaSets(procs).find((s) => s.configsvr));
  const root = plan.topology.global.deploy_dir ?? plan.deploy_dir;
  const tls = TLS_STEPS[plan.operation];
  const secOf = new Map<TlsStep | undefined, ReturnType<typeof deployConfigSecurity>>();
  const sec = (mode: TlsStep | undefined) =>
    secOf.get(mode) ?? secOf.set(mode, deployConfigSecurity(plan.topology, root, mode)).get(mode)!;
  // The staged files each process's configurations are written to, and the mode each ends on.
  const staged = new Map<string, Set<string>>();
  const lastMode = new Map<string, TlsStep>();

  for (const o of configs) {
    const where = `operation ${o.id} (generate_config)`;
    const p = byId.get(o.target.name);
    if (!p) {
      error(
        `${where} writes a configuration for ${
          JSON.stringify(o.target.name)
        }, which is not a process of this plan's topology`,
        o.target.host,
      );
      continue;
    }
    const mode = configMode(o, p, tls?.modes);
    if (mode === null) {
      error(
        `${where}: its ID is not one mup gives the configuration of ${p.id} in a ` +
          `${plan.operation} plan (${
            tls ? tls.modes.map((m) => `config-${p.id}-${m}`).join(", ") : `config-${p.id}`
          })`,
        p.host,
      );
      continue;
    }
    if (mode) lastMode.set(p.id, mode);
    const stagedPath = o.target.params.staged_path ?? "";
    // A TLS switch stages each round's file apart (`-<mode>`); plans made before did not.
    const names = [`${p.id}.conf`, ...(mode ? [`${p.id}-${mode}.conf`] : [])];
    if (
      !names.includes(path.basename(stagedPath)) ||
      path.basename(path.dirname(stagedPath)) !== "staging"
    ) {
      error(
        `${where}: parameter "staged_path" is ${JSON.stringify(stagedPath)}; expected the ` +
          `cluster's staging/${names.at(-1)}`,
        p.host,
      );
    }
    const set = staged.get(p.id) ?? staged.set(p.id, new Set()).get(p.id)!;
    set.add(stagedPath);
    const expected = renderConfig(p, configDb, sec(mode)(p));
    const content = o.target.params.content ?? "";
    if (content !== expected) {
      error(
        `${where}: parameter "content" is not the configuration mup generates for ${p.id} ` +
          `on ${p.host} from ${opts.topology ?? "this plan's topology"}${
            mode ? ` (tlsMode ${mode})` : ""
          }: ${firstDifference(content, expected)}`,
        p.host,
      );
    }
  }

  // What is uploaded to a process's configuration file is one of its staged configurations.
  const configAt = new Map(procs.map((p) => [`${hostKey(p.host)} ${configFilePath(p)}`, p]));
  for (const o of uploads) {
    const dest = o.target.params.dest;
    const p = dest === undefined
      ? undefined
      : configAt.get(`${hostKey(o.target.host ?? "")} ${path.posix.normalize(dest)}`);
    if (!p) continue;
    const source = o.target.params.source;
    if (o.target.params.secret !== undefined || !source || !staged.get(p.id)?.has(source)) {
      error(
        `operation ${o.id} (upload_file) writes the configuration file ${p.host}:${dest} of ` +
          `${p.id} from ${
            o.target.params.secret !== undefined
              ? `the secret ${JSON.stringify(o.target.params.secret)}`
              : JSON.stringify(source ?? "")
          }, which is not a configuration this plan generates for ${p.id}`,
        p.host,
      );
    }
  }

  if (tls) {
    const on = securityOf(plan.topology).tls;
    if (on === tls.tls) {
      error(
        `this ${plan.operation} plan's topology has TLS ${on ? "enabled" : "disabled"} ` +
          `already: a ${plan.operation} plan switches it ${tls.tls ? "on" : "off"}`,
      );
    }
    for (const [id, mode] of lastMode) {
      if (mode !== tls.last) {
        error(
          `the configuration of ${id} ends in tlsMode ${mode}; a ${plan.operation} plan ends ` +
            `every process on ${tls.last}`,
          byId.get(id)?.host,
        );
      }
    }
    const recorded = ops.filter((o) =>
      o.type === "update_metadata" && o.target.params.security_tls !== undefined
    );
    if (!recorded.length || recorded.some((o) => o.target.params.security_tls !== `${tls.tls}`)) {
      error(
        `a ${plan.operation} plan records \`security.tls: ${tls.tls}\` in the metadata ` +
          `(an update_metadata operation with security_tls "${tls.tls}"); this one ${
            recorded.length
              ? `records ${recorded.map((o) => JSON.stringify(o.target.params.security_tls))}`
              : "does not"
          }`,
      );
    }
  }
  return issues;
}

/**
 * The TLS mode operation `o` writes `p`'s configuration in: undefined for a deploy's
 * `config-<process>` (the topology's own), one of `modes` for a `cluster tls` plan's
 * `config-<process>-<mode>`; null when the ID is neither.
 */
function configMode(
  o: PlannedOperation,
  p: ProcessSpec,
  modes: TlsStep[] | undefined,
): TlsStep | undefined | null {
  const prefix = `config-${p.id}`;
  if (!modes) return o.id === prefix ? undefined : null;
  const mode = o.id.startsWith(`${prefix}-`) ? o.id.slice(prefix.length + 1) : "";
  return (modes as string[]).includes(mode) ? mode as TlsStep : null;
}

/**
 * planConfigIssues against the cluster as recorded in its metadata rather than as the plan says:
 * a plan for a recorded cluster may only write the configurations that cluster's topology gives,
 * so a plan whose topology (its security, its bindIp) was edited along with the content is
 * refused too. `recorded` is the metadata's topology and deploy_dir. Pure.
 */
export function recordedConfigIssues(
  plan: Plan,
  recorded: Pick<Plan, "topology" | "deploy_dir">,
): ValidationIssue[] {
  const asRecorded: Plan = {
    ...plan,
    // A reconfigure writes the recorded cluster's configurations with its own runtime_config, a
    // scale-out those of its added processes too.
    topology: allowedTopology(plan, recorded.topology),
    deploy_dir: recorded.deploy_dir,
  };
  return planConfigIssues(asRecorded, { topology: "the recorded topology" }).map((i) => ({
    ...i,
    message: `cluster ${plan.cluster_name} as recorded in its metadata: ${i.message}`,
  }));
}
