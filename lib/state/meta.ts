import * as path from "node:path";
import { parse, stringify } from "yaml";
import { z } from "zod";
import { MupError } from "../errors.ts";
import { Release, Variant } from "../plan/schema.ts";
import { Topology, TopologyKind } from "../topology/schema.ts";
import { writeFileAtomic } from "./atomic.ts";
import { newerFormat, newerFormatError } from "./format_version.ts";
import { Identifier, ProcessName } from "../util/ident.ts";

export const META_FORMAT_VERSION = 1;

/**
 * The status recorded for a cluster of `total` processes of which `running` run: running when
 * all do, stopped when none does, partial otherwise (update_metadata writes it; the lifecycle
 * planners predict it from their probes). "unknown" is only what a plan marks before it changes
 * anything, until its last record.
 */
export function statusOfRunning(running: number, total: number): ClusterMeta["status"] {
  return running === total ? "running" : running === 0 ? "stopped" : "partial";
}

/** `clusters/<name>/meta.yaml`: what mup knows of a deployed cluster. */
export const ClusterMeta = z.object({
  format_version: z.literal(META_FORMAT_VERSION),
  name: Identifier,
  /** Set when the cluster is first recorded; plans made against another lineage are refused. */
  lineage: z.string(),
  /** Goes up by one on every change mup records; a plan made at an older serial is stale. */
  serial: z.number().int().nonnegative(),
  /**
   * What the last record found: every process running, some (partial), none (stopped), or
   * unknown (a plan is changing it, or was cut off before its last record).
   */
  status: z.enum(["running", "partial", "stopped", "unknown"]),
  kind: TopologyKind,
  version: z.string(),
  variant: Variant,
  deploy_dir: z.string(),
  connection_string: z.string(),
  topology: Topology,
  processes: z.array(z.object({
    id: ProcessName,
    role: z.string(),
    host: z.string(),
    port: z.number().int(),
    replica_set: z.string().optional(),
    config: z.string(),
    pid_file: z.string(),
  })),
  created_at: z.string(),
  updated_at: z.string(),
  last_plan_id: Identifier,
  last_state_id: Identifier,
  /** The release deployed (absent in metadata written before mup recorded it). */
  release: Release.optional(),
  /**
   * The server binaries the deploy installed, each with the sha256 of the verified download it
   * was copied from (absent in metadata written before mup recorded them: then only their
   * presence is checked). Starts compare the file on the host with it, so a binary replaced
   * since is found before mup runs it.
   */
  binaries: z.array(z.object({
    host: z.string(),
    path: z.string(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
  })).optional(),
  /**
   * Set while a `cluster upgrade` keeps the balancer it stopped off (set before balancerStop,
   * cleared after balancerStart): the upgrade that finishes, or the next one, starts it again.
   * A balancer found off without it was stopped by someone else, and stays off.
   */
  balancer_stopped_by: z.object({ plan_id: z.string(), state_id: z.string(), at: z.string() })
    .optional(),
  /**
   * Releases (`<variant>-<version>`) that `cluster upgrade` replaced: their binaries stay
   * installed under `<deploy root>/bin` beside the current ones (the way back while the FCV is
   * not raised), and a destroy removes them with the rest.
   */
  earlier_releases: z.array(z.string().regex(/^[a-z]+-[0-9][0-9A-Za-z.-]*$/)).optional(),
  /**
   * The featureCompatibilityVersion mup last saw or set on the cluster's data ("7.0"): read by
   * `cluster upgrade` when it plans, set by its `--set-fcv`. Absent (older metadata, clusters
   * never upgraded): the series of `version`, which a deploy onto empty data starts at. What
   * `cluster display` shows is read live; this record serves what cannot ask the servers: a
   * deploy onto the data a `destroy --retain-data` kept (a release starts only on data at its
   * own or the previous series' FCV).
   */
  feature_compatibility_version: z.string().regex(/^\d+\.\d+$/).optional(),
  /**
   * Data directories of members that `cluster scale-in --retain-data` took out: no longer the
   * cluster's processes, still its data. `cluster display` lists them and `cluster destroy`
   * leaves them in place and names them. An entry goes when a process of the cluster has that
   * directory again (the operator emptied it and a scale-out reused it).
   */
  retained_data: z.array(z.object({
    id: ProcessName,
    host: z.string(),
    path: z.string(),
    /** The scale-in's plan ID, and when it recorded the removal (ISO 8601). */
    plan_id: Identifier,
    at: z.string(),
  })).optional(),
  /**
   * Processes that `cluster scale-in --host-gone` took out without reaching their host (gone
   * for good): never stopped, their directories (`paths`) never removed. `cluster display`
   * names them and `cluster destroy` says it leaves them: should the host come back, they are
   * the operator's to stop and remove. An entry goes when the cluster has a process on that
   * host and port again.
   */
  forgotten: z.array(z.object({
    id: ProcessName,
    host: z.string(),
    port: z.number().int(),
    paths: z.array(z.string()),
    /** The scale-in's plan ID, and when it recorded the removal (ISO 8601). */
    plan_id: Identifier,
    at: z.string(),
  })).optional(),
  /**
   * Set when a command changed the recorded topology after the deploy (`cluster tls`): the
   * topology file no longer describes the cluster, so a repair takes what `cluster show-config`
   * prints instead. A deploy (repair) writes the metadata anew, without it.
   */
  topology_changed: z.object({ by: z.string(), at: z.string() }).optional(),
  /** The topology file deployed; lifecycle hooks run in its directory. */
  topology_file: z.string().optional(),
  /**
   * A TLS switch under way (`cluster tls <name> enable|disable`): set by the switch's first
   * operation, cleared by its last. While set, the members' configurations and runtime tlsMode
   * lie anywhere between the recorded `global.security.tls` and the target, so every other
   * plan but a destroy is refused until the switch is resumed to its end.
   */
  tls_switch: z.object({
    action: z.enum(["enable", "disable"]),
    plan_id: Identifier,
    state_id: Identifier,
    started_at: z.string(),
  }).optional(),
});
export type ClusterMeta = z.infer<typeof ClusterMeta>;

export function metaPath(clusterDir: string): string {
  return path.join(clusterDir, "meta.yaml");
}

export async function readMeta(clusterDir: string): Promise<ClusterMeta | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(metaPath(clusterDir));
  } catch {
    // Gone while mup's copy says the cluster is recorded: restored from it, never guessed.
    const copy = await readCopy(clusterDir);
    if (copy) {
      throw new MupError(
        `${metaPath(clusterDir)} is missing, but cluster ${copy.name} is recorded`,
        {
          hint: restoreHint(clusterDir, copy),
        },
      );
    }
    return undefined;
  }
  const parsed = parseMeta(text);
  if (typeof parsed === "number") {
    throw newerFormatError(metaPath(clusterDir), parsed, META_FORMAT_VERSION);
  }
  if (typeof parsed !== "string") return await checkedAgainstCopy(clusterDir, parsed);
  const copy = await readCopy(clusterDir);
  throw new MupError(`${metaPath(clusterDir)} is damaged: ${parsed}`, {
    hint: copy
      ? restoreHint(clusterDir, copy)
      : "restore the file from a backup (mup writes it itself; it is not meant to be " +
        "edited by hand)",
  });
}

/**
 * `meta` (meta.yaml, valid) as mup last wrote it, judged against mup's copy: the same record, or
 * no copy (a store older than the copy), is `meta`. A copy written after meta.yaml (writeMeta
 * writes the copy first: a crash came between the two) holds the newer record, which is put in
 * place and returned. Otherwise meta.yaml was changed outside mup (by hand): it is refused,
 * naming the first field that differs, as mup plans from it and an edit changes what mup
 * believes, not the cluster.
 */
async function checkedAgainstCopy(clusterDir: string, meta: ClusterMeta): Promise<ClusterMeta> {
  const copyText = await Deno.readTextFile(metaCopyPath(clusterDir)).catch(() => undefined);
  const copy = copyText === undefined ? undefined : parseMeta(copyText);
  if (typeof copy !== "object") return meta;
  const differs = firstDifference(copy, meta);
  if (differs === undefined) return meta;
  const [metaStat, copyStat] = await Promise.all(
    [metaPath(clusterDir), metaCopyPath(clusterDir)].map((f) =>
      Deno.stat(f).catch(() => undefined)
    ),
  );
  const newer = (metaStat?.mtime?.getTime() ?? 0) < (copyStat?.mtime?.getTime() ?? 0);
  if (newer) {
    await writeFileAtomic(metaPath(clusterDir), copyText!);
    return copy;
  }
  throw new MupError(
    `${metaPath(clusterDir)} was changed outside mup: ${differs.path || "the record"} is ` +
      `${show(differs.now)} there, ${show(differs.was)} in the record mup wrote (serial ` +
      `${copy.serial}, ${copy.updated_at})`,
    {
      hint: "mup writes this file itself and plans from it: an edit changes what mup " +
        `believes, not the cluster. \`cp ${metaCopyPath(clusterDir)} ${metaPath(clusterDir)}\` ` +
        "restores mup's record; a change to the cluster is made by the command that makes it " +
        "(`mup cluster reconfigure`, `scale-out`, `scale-in`, `upgrade`, `tls`)",
      details: { check: "meta_edited", field: differs.path },
    },
  );
}

/** A value for a message: JSON, cut short. */
function show(v: unknown): string {
  const s = v === undefined ? "absent" : JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** The first field (dotted path, [i] for items) at which `was` and `now` differ, if any. */
function firstDifference(
  was: unknown,
  now: unknown,
  at = "",
): { path: string; was: unknown; now: unknown } | undefined {
  if (Object.is(was, now)) return undefined;
  const obj = (v: unknown) => typeof v === "object" && v !== null;
  if (!obj(was) || !obj(now) || Array.isArray(was) !== Array.isArray(now)) {
    return { path: at, was, now };
  }
  const a = was as Record<string, unknown>, b = now as Record<string, unknown>;
  const keys = Array.isArray(was)
    ? [...Array(Math.max((was as unknown[]).length, (now as unknown[]).length)).keys()]
    : [...new Set([...Object.keys(a), ...Object.keys(b)])];
  for (const k of keys) {
    const sub = Array.isArray(was) ? `${at}[${k}]` : at ? `${at}.${k}` : String(k);
    const d = firstDifference(a[k as keyof typeof a], b[k as keyof typeof b], sub);
    if (d) return d;
  }
  return undefined;
}

/** The metadata in `text`, or why it is not. */
/** The metadata in `text`; what is wrong with it; or the newer format it says it has. */
function parseMeta(text: string): ClusterMeta | string | number {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    return `not valid YAML (${(e as Error).message.split("\n")[0]})`;
  }
  const newer = newerFormat(doc, META_FORMAT_VERSION);
  if (newer !== undefined) return newer;
  const parsed = ClusterMeta.safeParse(doc);
  if (parsed.success) return parsed.data;
  const i = parsed.error.issues[0];
  return `${i?.path.join(".") || "the document"}: ${i?.message}`;
}

/**
 * The copy of meta.yaml mup keeps beside the cluster's apply states (writeMeta writes both), so
 * that a metadata file lost or damaged (a full disk, an edit by hand) is not the end of the
 * cluster's management.
 */
export function metaCopyPath(clusterDir: string): string {
  return path.join(clusterDir, "state", "meta.copy.yaml");
}

async function readCopy(clusterDir: string): Promise<ClusterMeta | undefined> {
  const text = await Deno.readTextFile(metaCopyPath(clusterDir)).catch(() => undefined);
  const parsed = text === undefined ? undefined : parseMeta(text);
  return typeof parsed === "object" ? parsed : undefined;
}

function restoreHint(clusterDir: string, copy: ClusterMeta): string {
  return `mup keeps a copy of it, serial ${copy.serial} as of ${copy.updated_at} (status ` +
    `${copy.status}): check it, then \`cp ${metaCopyPath(clusterDir)} ${metaPath(clusterDir)}\`` +
    " restores it";
}

export async function writeMeta(clusterDir: string, meta: ClusterMeta): Promise<void> {
  const text = stringify(ClusterMeta.parse(meta));
  // The copy first: a crash between the two leaves it the newer, which readMeta then puts in
  // place (a meta.yaml newer than its copy and different was edited outside mup).
  await Deno.mkdir(path.dirname(metaCopyPath(clusterDir)), { recursive: true, mode: 0o700 });
  await writeFileAtomic(metaCopyPath(clusterDir), text);
  await writeFileAtomic(metaPath(clusterDir), text);
}

/** Unrecords the cluster: meta.yaml and mup's copy of it go (NotFound is fine). */
export async function removeMeta(clusterDir: string): Promise<void> {
  for (const f of [metaPath(clusterDir), metaCopyPath(clusterDir)]) {
    await Deno.remove(f).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
  }
}

/** The base state a new plan records. */
export function baseStateOf(meta: ClusterMeta | undefined): { lineage: string; serial: number } {
  return meta ? { lineage: meta.lineage, serial: meta.serial } : { lineage: "", serial: 0 };
}
