import { shellQuote } from "../executor/shell_quote.ts";
import * as path from "node:path";
import { allOperations, type Plan, type Release } from "./schema.ts";
import type { ClusterMeta } from "../state/meta.ts";
import { tlsSwitchAction } from "./mark_op.ts";

/**
 * The command that makes a plan of an operation, for hints: `cluster stop x`, `state rollback
 * x`, `cluster tls x enable` (operation "tls-enable": no `cluster tls-enable` command exists),
 * `cluster upgrade x --version <the plan's version>`.
 * The cluster's deploy takes a topology and is named by its callers.
 */
export function commandOf(
  operation: string,
  cluster: string,
  version?: string,
  topologyFile?: string,
): string {
  if (operation === "rollback") return `state rollback ${cluster}`;
  // A scale-in by node (-N, in the plan's request) has no topology file.
  if (operation === "scale-in" && !topologyFile) return `cluster scale-in ${cluster}`;
  // A reconfigure and a scale-out or scale-in take the topology file they were made from.
  if (operation === "reconfigure" || operation === "scale-out" || operation === "scale-in") {
    return `cluster ${operation} ${cluster} ${
      topologyFile ? shellQuote(topologyFile) : "<topology>"
    }`;
  }
  // An upgrade plan's version is the release it installs.
  if (operation === "upgrade" && version) return `cluster upgrade ${cluster} --version ${version}`;
  const tls = tlsSwitchAction(operation);
  if (tls) return `cluster tls ${cluster} ${tls}`;
  return `cluster ${operation} ${cluster}`;
}

/**
 * The flags, after commandOf's command, that make a plan like `plan` again: a rollback's
 * `--checkpoint`, the `-R`/`-N`
 * selection and `--force` of a start, stop or restart, `--host-gone` of a destroy or scale-in, `--set-fcv` for an upgrade that raises
 * the FCV, `--variant percona` for a deploy of Percona's builds, and for a
 * deploy or an upgrade the `--mirror` its release came from. Each value shell-quoted; "" when none applies.
 */
export function replanFlags(
  plan: Pick<Plan, "operation" | "variant" | "phases"> & {
    release?: Pick<Release, "mirror">;
    request?: Plan["request"];
  },
): string {
  const flags: string[] = [];
  // A rollback: to the same checkpoint (its last operation names it).
  if (plan.operation === "rollback") {
    const mark = allOperations(plan).find((o) => o.type === "mark_rolled_back");
    if (mark?.target.params.checkpoint) {
      flags.push(`--checkpoint ${shellQuote(mark.target.params.checkpoint)}`);
    }
  }
  // A start, stop or restart of a selection: the same selection.
  for (const r of plan.request?.roles ?? []) flags.push(`-R ${shellQuote(r)}`);
  for (const n of plan.request?.nodes ?? []) flags.push(`-N ${shellQuote(n)}`);
  if (plan.request?.force) flags.push("--force");
  for (const h of plan.request?.gone_hosts ?? []) flags.push(`--host-gone ${shellQuote(h)}`);
  if (plan.operation === "upgrade" && allOperations(plan).some((o) => o.type === "set_fcv")) {
    flags.push("--set-fcv");
  }
  // An upgrade keeps the cluster's variant by itself; a deploy defaults to MongoDB's builds.
  if (plan.operation === "deploy" && plan.variant === "percona") flags.push("--variant percona");
  if ((plan.operation === "upgrade" || plan.operation === "deploy") && plan.release?.mirror) {
    flags.push(`--mirror ${shellQuote(plan.release.mirror)}`);
  }
  return flags.map((f) => ` ${f}`).join("");
}

/**
 * The whole command that makes a plan like `plan` again (commandOf's with replanFlags'), a
 * deploy's with its topology file and version: `cluster restart x -N h:p`,
 * `cluster deploy x 'topo.yaml' --version 7.0.14`.
 */
export function replanCommand(
  plan: Pick<Plan, "operation" | "variant" | "phases" | "cluster_name" | "version"> & {
    topology_file?: string;
    release?: Pick<Release, "mirror">;
    request?: Plan["request"];
  },
): string {
  const command = plan.operation === "deploy"
    ? `cluster deploy ${plan.cluster_name} ${
      plan.topology_file ? shellQuote(plan.topology_file) : "<topology>"
    } --version ${plan.version}`
    : commandOf(plan.operation, plan.cluster_name, plan.version, plan.topology_file);
  return command + replanFlags(plan);
}

/**
 * Where a hint has `cluster show-config` write the recorded topology: beside the topology file
 * deployed (`<dir>/<name>.recorded.yaml`, shell-quoted), since hooks run in that file's directory
 * and a topology from elsewhere would move them; `<name>.recorded.yaml` in the current directory
 * when no file was recorded. Never the deployed file's own name: the user's file stays as it is.
 */
export function recordedTopologyPath(meta: Pick<ClusterMeta, "name" | "topology_file">): string {
  const file = `${meta.name}.recorded.yaml`;
  return shellQuote(meta.topology_file ? path.join(path.dirname(meta.topology_file), file) : file);
}

/**
 * The repair of a cluster, pasteable: its recorded topology written out (recordedTopologyPath,
 * after a `mkdir -p` of that directory, which may be gone) and deployed again with its version
 * and the mirror its release came from (offline, the official center is unreachable).
 */
export function repairCommandOf(
  c: { name: string; topology_file?: string; version: string; mirror?: string },
): string {
  const mirror = c.mirror ? ` --mirror ${shellQuote(c.mirror)}` : "";
  const file = recordedTopologyPath(c);
  const mkdir = c.topology_file ? `mkdir -p ${shellQuote(path.dirname(c.topology_file))} && ` : "";
  return `${mkdir}mup cluster show-config ${c.name} > ${file} && mup cluster deploy ` +
    `${c.name} ${file} --version ${c.version}${mirror}`;
}

/** repairCommandOf for the cluster a plan was made for, from the plan's own fields. */
export function repairCommandOfPlan(
  plan: Pick<Plan, "cluster_name" | "version" | "topology_file" | "release">,
): string {
  return repairCommandOf({
    name: plan.cluster_name,
    version: plan.version,
    ...(plan.topology_file ? { topology_file: plan.topology_file } : {}),
    ...(plan.release?.mirror ? { mirror: plan.release.mirror } : {}),
  });
}
