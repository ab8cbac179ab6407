/**
 * The probe step of the lifecycle commands: reads the recorded cluster, asks every process
 * whether it runs and what it is (lib/probe/process_facts.ts), then calls
 * the command's pure planner. Not pure itself, like deploy.ts.
 */
import { lostSecretIssues } from "../preflight/lost_secrets.ts";
import { adminLoginIssues } from "../preflight/admin_login.ts";
import * as path from "node:path";
import type { ExecutorFactory } from "../executor/executor.ts";
import { recordedHooks } from "../hooks/compile.ts";
import type { ApplyState } from "../state/schema.ts";
import type { ClusterMeta } from "../state/meta.ts";
import { measuredDurations } from "../preflight/measured.ts";
import type { LifecyclePlanInput, ProcessFact } from "./lifecycle.ts";
import { allOperations, type Plan } from "./schema.ts";
import { listProcesses } from "./processes.ts";
import { checkDirsCreatable } from "../preflight/data_dirs.ts";
import { checkRecordedData, stoppedDataWarnings } from "../preflight/recorded_data.ts";
import { guardStarts, markResync } from "./repair_files.ts";
import { guardStops, startFiles, type WrittenByUnfinished } from "./start_files.ts";
import { offerForceOnlyAlone } from "./restart.ts";
import { repairCommand } from "./recorded.ts";
import { checkStartFiles } from "../preflight/start_files.ts";
import { checkStartPorts } from "../preflight/start_ports.ts";
import { type ProcessFilter, selectProcesses } from "./select.ts";
import { goneHostErrors, onGoneHost, unreachableErrors } from "./gone_hosts.ts";
import { probeFacts } from "../probe/process_facts.ts";
import { commandOf } from "./command_of.ts";
import { hostKey, hostPort } from "../topology/hosts.ts";
import type { PlanStore } from "./store.ts";
import { reconfigureCommand, replacedReconfigureWrites } from "./reconfigure_left.ts";
import {
  dataDirsUsed,
  recordedReplan,
  replacedReconfigure,
  type UnfinishedApply,
  unfinishedApply,
  unfinishedWarningOf,
} from "../state/undeployed.ts";
import { secretPath } from "../security/secrets.ts";
import { SECRET, securityOf } from "../security/settings.ts";
import { checkStoreCertificates } from "../preflight/store_certs.ts";
import { sha256File } from "../util/file_hash.ts";

/** Probes, then runs `planner` on the recorded cluster. */
export async function buildLifecyclePlan(
  planner: (input: LifecyclePlanInput) => Omit<Plan, "content_hash">,
  req: {
    meta: ClusterMeta;
    store: PlanStore;
    executors: ExecutorFactory;
    filter?: ProcessFilter;
    dryRun?: boolean;
    /** `meta` is not recorded: it describes what a first deploy left (undeployedMeta). */
    unrecorded?: boolean;
    /** destroy, scale-in: `--host-gone` hosts (gone_hosts.ts). */
    goneHosts?: string[];
    /**
     * upgrade, tls: the plan is refused while a process is down, naming what starts it
     * (LifecyclePlanInput.startCommand).
     */
    needsEveryProcess?: boolean;
  },
): Promise<Omit<Plan, "content_hash">> {
  const clusterDir = req.store.clusterDir(req.meta.name);
  const facts = await probeFacts(req.meta, req.executors);
  // An apply left unfinished (failed, paused, or its mup killed) is replaced by this one.
  const u = await unfinishedApply(clusterDir);
  const unfinished = unfinishedWarningOf(u, req.meta.name);
  const deployDir = path.join(clusterDir, "deploy");
  // What a failed first deploy found in place and never ran a mongod on is not its own.
  const used = req.unrecorded ? await dataDirsUsed(clusterDir) : undefined;
  const foreignData = used &&
    listProcesses(req.meta.topology, deployDir).filter((p) =>
      p.role !== "mongos" && !used.has(`${hostKey(p.host)}\0${p.dirs.data}`)
    ).map((p) => p.id);
  // Two questions below read every apply state for it: read them once.
  let replacedRead: Promise<ApplyState | undefined> | undefined;
  const replacedOnce = () => replacedRead ??= replacedReconfigure(clusterDir);
  // What is down is started by `cluster start`, unless a reconfigure a later stop replaced
  // left configuration files that start refuses: then only that reconfigure starts it.
  const down = req.needsEveryProcess &&
    req.meta.processes.some((p) => facts[p.id] && !facts[p.id].running);
  const replaced = down && !req.unrecorded && u?.state.operation !== "reconfigure"
    ? await replacedReconfigureWrites(req.meta.name, await replacedOnce(), req.store)
    : undefined;
  const plan = planner({
    planId: `plan-${crypto.randomUUID().slice(0, 8)}`,
    createdAt: new Date().toISOString(),
    meta: req.meta,
    clusterDir,
    deployDir,
    hooks: recordedHooks(req.meta, clusterDir),
    facts,
    measured: await measuredDurations(req.store, req.meta.name, req.meta.topology),
    filter: req.filter,
    dryRun: req.dryRun,
    unrecorded: req.unrecorded,
    ...(foreignData?.length ? { foreignData } : {}),
    ...(req.goneHosts?.length ? { goneHosts: req.goneHosts } : {}),
    ...(unfinished && u
      ? { unfinished: { operation: u.state.operation, stateId: u.state.state_id } }
      : {}),
    ...(replaced ? { startCommand: replaced.command } : {}),
  });
  // A host that cannot be asked leaves its processes' state unknown: whatever the plan would
  // do there (start what runs, skip the stop of what runs) would rest on a guess.
  const selected = new Set(
    selectProcesses(req.meta.processes, req.filter, req.meta.name).map((p) => p.id),
  );
  const gone = req.goneHosts ?? [];
  const unknown = req.meta.processes.filter((p) =>
    selected.has(p.id) && facts[p.id]?.unreachable && !onGoneHost(gone, p.host)
  );
  // What the planner concluded of them from "not running" (a restart's "is not running: a
  // restart needs it up") is a guess too: only the host is named.
  const guessed = unknown.map((p) => `${hostPort(p.host, p.port)} is not running`);
  plan.validation.errors = plan.validation.errors.filter((e) =>
    !guessed.some((g) => e.message.includes(g))
  );
  const unasked = unreachableErrors(
    plan.operation,
    req.meta.name,
    req.meta.processes,
    unknown,
    facts,
  );
  plan.validation.errors.push(...unasked);
  if (unasked.length) plan.validation.valid = false;
  if (gone.length) {
    const command = commandOf(plan.operation, req.meta.name, undefined, plan.topology_file);
    plan.validation.errors.push(...goneHostErrors(gone, req.meta.processes, facts, command));
    plan.validation.valid = plan.validation.errors.length === 0;
  }
  // The CA gone from the store, or not its key's certificate: nothing can be checked against
  // it (each certificate would be "not signed", each host's ca.pem "not the one installed").
  const caLost = req.unrecorded ? [] : await lostSecretIssues(req.meta, ["ca"]);
  await checkStarts(plan, req, facts, caLost.length === 0, u, replacedOnce);
  await checkHungFiles(plan, req, facts);
  const lostNow = async () => [...await lostSecretIssues(req.meta, ["admin"]), ...caLost];
  // Without the admin credentials or the CA mup cannot log in: refused here, not blamed on the
  // servers mid-apply. A stop and a destroy need neither (signals end what will not answer).
  if (!req.unrecorded && plan.operation !== "stop" && plan.operation !== "destroy") {
    const lost = await lostNow();
    // …and with them in the store, the members must accept them.
    if (!lost.length) lost.push(...await adminLoginIssues(req.meta, facts, req.executors));
    if (lost.length) {
      // Members mup could not ask for that reason are not said not to answer, nor their FCV
      // unreadable: the servers are not the cause.
      const blamed = (i: { code: string }) => ["not_answering", "fcv_unread"].includes(i.code);
      plan.validation.errors = [...plan.validation.errors.filter((i) => !blamed(i)), ...lost];
      plan.validation.warnings = plan.validation.warnings.filter((i) => !blamed(i));
      plan.validation.valid = false;
    }
  }
  // A stop goes ahead without them, but nothing can start the cluster again until they are
  // back: said before it is approved.
  if (plan.operation === "stop" && !req.unrecorded) {
    plan.validation.warnings.push(
      ...(await lostNow()).map((i) => ({
        ...i,
        severity: "warning" as const,
        message: `${i.message}. This stop does not need it (signals end what mup cannot log in ` +
          `to), but \`mup cluster start ${req.meta.name}\` is refused until it is back`,
      })),
    );
    const stopping = new Set(
      allOperations(plan).filter((o) => o.type === "stop_process").map((o) => o.target.name),
    );
    plan.validation.warnings.push(
      ...await stoppedDataWarnings(
        listProcesses(req.meta.topology, path.join(clusterDir, "deploy")),
        req.executors,
        stopping,
      ),
    );
  }
  offerForceOnlyAlone(plan.validation.errors);
  // Say the unfinished apply is replaced before the plan is approved, since it can then no
  // longer be resumed.
  if (unfinished) plan.validation.warnings.push(unfinished);
  return plan;
}

/**
 * A start's refusal of a member that runs but does not answer names its stop, then its start;
 * when its configuration file was edited on the host (a server listening on another port), that
 * start would be refused in turn, so the file's difference is named now, with the repair that
 * writes it again (tester61 M4).
 */
async function checkHungFiles(
  plan: Omit<Plan, "content_hash">,
  req: { meta: ClusterMeta; store: PlanStore; executors: ExecutorFactory; unrecorded?: boolean },
  facts: Record<string, ProcessFact>,
): Promise<void> {
  const refused = plan.validation.errors.some((i) => i.code === "not_answering");
  if (req.unrecorded || plan.operation !== "start" || !refused) return;
  const deployDir = path.join(req.store.clusterDir(req.meta.name), "deploy");
  const hung = listProcesses(req.meta.topology, deployDir).filter((p) =>
    facts[p.id]?.answering === false
  );
  const files = startFiles(req.meta, hung, deployDir).filter((f) =>
    f.what === "configuration file"
  );
  const { issues } = await checkStartFiles(files, req.executors, repairCommand(req.meta));
  plan.validation.errors.push(...issues.filter((i) => i.code === "start_file_changed"));
}

/**
 * Pre-flight of the processes `plan` starts (start, restart, a rollback's start): no standalone or
 * whole replica set starts on data directories that lost their data (it would come back empty;
 * a member whose set holds data resyncs from it, said as a warning), and every
 * directory it writes in can be written (a file in the way makes mongod exit at start), the
 * files each start reads are on its host (lib/plan/start_files.ts), and each one's port is not
 * held by another process (lib/preflight/start_ports.ts). The
 * same checks as a deploy's, so the plan is refused before it is approved, not at the start.
 */
async function checkStarts(
  plan: Omit<Plan, "content_hash">,
  req: { meta: ClusterMeta; store: PlanStore; executors: ExecutorFactory; unrecorded?: boolean },
  facts: Record<string, ProcessFact>,
  /** The store's CA is there and is its key's: certificates can be checked against it. */
  caTrusted: boolean,
  /** The cluster's unfinished apply, as buildLifecyclePlan read it (unfinishedApply). */
  cutOff: UnfinishedApply | undefined,
  /** replacedReconfigure of the cluster, read once. */
  replacedOnce: () => Promise<ApplyState | undefined>,
): Promise<void> {
  if (req.unrecorded) return; // what a failed deploy left is only ever destroyed
  const started = new Set(
    allOperations(plan).filter((o) => o.type === "start_process").map((o) => o.target.name),
  );
  if (!started.size) return;
  const all = listProcesses(
    req.meta.topology,
    path.join(req.store.clusterDir(req.meta.name), "deploy"),
  );
  const procs = all.filter((p) => started.has(p.id));
  // The files each start reads (configuration, binary, keyfile, certificates): one deleted
  // would leave the process down after a restart's stop, so the plan is refused, and a saved
  // plan applied after the deletion stops before the stop.
  const files = startFiles(
    req.meta,
    procs,
    path.join(req.store.clusterDir(req.meta.name), "deploy"),
  );
  // A reconfigure that did not finish wrote configurations the metadata does not describe; a
  // repair over it is refused (deploy.ts): writing them again is a reconfigure's.
  // So did one that stops, starts or restarts replaced since (tester109 #1).
  const current = cutOff?.state.operation === "reconfigure" ? cutOff.state : undefined;
  const cutState = current ?? await replacedOnce();
  const cutPlan = cutState
    ? (await req.store.load(cutState.plan_path).catch(() => undefined))?.plan
    : undefined;
  // Named with the file it was planned from, when its plan says (so the hint can be pasted).
  const reconfigure = await reconfigureCommand(req.meta.name, cutPlan);
  const repair = cutState ? reconfigure : repairCommand(req.meta);
  // The configurations it wrote: a resume finishes it, unless its failure stands; once
  // replaced, the same reconfigure again does.
  const writtenBy: WrittenByUnfinished | undefined = cutState && cutPlan
    ? {
      operation: cutState.operation,
      state_id: cutState.state_id,
      finish: current
        ? recordedReplan(cutOff!) ?? `\`mup plan resume ${req.meta.name}\``
        : `\`${reconfigure}\`: a later apply replaced it, so no resume reaches it`,
      contents: new Map(
        allOperations(cutPlan).filter((o) => o.type === "generate_config")
          .map((o) => [o.target.name, String(o.target.params.content ?? "")]),
      ),
    }
    : undefined;
  // Each started member's certificate in the store must be the store CA's; where it is not,
  // that copy is the one refused, and its host's is not compared with it (tester36 M3).
  const certs = securityOf(req.meta.topology).tls && caTrusted
    ? await checkStoreCertificates(req.meta.name, procs, repair)
    : undefined;
  // The keyfile and certificates must be the cluster's (its secrets store's): members restarted
  // on another keyfile cannot authenticate to the rest of their set, which is left without a
  // primary once the rolling restart steps the old one down.
  await Promise.all(files.map(async (f) => {
    const ref = f.what === "keyfile"
      ? SECRET.keyfile
      : f.what === "CA certificate"
      ? SECRET.ca
      : f.what === "TLS certificate"
      ? `secret:cert:${f.process}`
      : undefined;
    if (!ref || f.sha256 || (!caTrusted && ref !== SECRET.keyfile)) return;
    if (f.what === "TLS certificate" && certs?.unsigned.has(f.process)) return;
    const want = await sha256File(secretPath(req.meta.name, ref)).catch(() => undefined);
    if (want) f.sha256 = want;
  }));
  guardStops(plan, files, repair);
  const written = new Set(
    allOperations(plan).filter((o) => o.type === "generate_config").map((o) => o.target.name),
  );
  // The other members of a started member's set are asked too: the source of an initial sync.
  const data = await checkRecordedData(all, req.executors, {
    cluster: req.meta.name,
    version: req.meta.version,
    variant: req.meta.variant,
    topologyFile: req.meta.topology_file,
    sharded: req.meta.kind === "sharded",
  }, started);
  plan.validation.warnings.push(...data.warnings);
  markResync(plan, data.resync);
  guardStarts(plan, all);
  for (
    const c of [
      data,
      await checkDirsCreatable(procs, req.executors),
      // A configuration the plan writes itself before the start (a reconfigure, `cluster tls`)
      // is not expected as recorded.
      await checkStartFiles(
        files.filter((f) => f.what !== "configuration file" || !written.has(f.process)),
        req.executors,
        repair,
        writtenBy,
      ),
      ...(certs ? [certs] : []),
      // A port another process took while the server was stopped: its start would fail.
      await checkStartPorts(
        procs,
        new Set(procs.filter((p) => facts[p.id]?.running).map((p) => p.id)),
        req.executors,
        req.meta.name,
      ),
    ]
  ) {
    plan.validation.checks.push(c.check);
    if (c.issues.length) {
      plan.validation.errors.push(...c.issues);
      plan.validation.valid = false;
    }
  }
}
