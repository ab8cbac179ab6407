/**
 * Live facts about a recorded cluster, asked over the wire (hello, serverStatus,
 * replSetGetStatus) with a timeout on every question, so a dead host never makes a command hang.
 * Read-only: used by `cluster display` and gathered before the lifecycle planners run.
 */
import { hostPort } from "../topology/hosts.ts";
import type { Document } from "mongodb";
import { ANSWER_TIMEOUT_MS, type MongoAccess, TlsUntrustedError } from "../mongo/client.ts";
import type { ClusterMeta } from "../state/meta.ts";
import { formatDuration } from "../util/format.ts";
import { type Answer, judgeBySet } from "./set_view.ts";

/** One process as recorded in meta.yaml. */
export type MetaProcess = ClusterMeta["processes"][number];

/** What one process said (or why it said nothing). */
export interface ProcessStatus {
  /** `host:port`. */
  id: string;
  /** The process ID of meta.yaml (`<role>-<host>-<port>`). */
  process_id: string;
  host: string;
  port: number;
  /** mongod, config, mongos or arbiter. */
  role: string;
  replica_set?: string;
  /**
   * PRIMARY, SECONDARY, ARBITER, STARTUP2, RECOVERING…, RUNNING (standalone/mongos), DOWN, or
   * STARTUP (its server runs but does not listen yet: cluster_display.ts).
   */
  state: string;
  /** Why the process is DOWN: connection refused, no answer within the timeout… */
  reason?: string;
  /** DOWN because it speaks TLS with a certificate the cluster's CA did not sign. */
  tls_untrusted?: boolean;
  /** Seconds behind the set's primary (secondaries only). */
  lag_s?: number;
  /**
   * Replica-set members, as the set's live configuration (replSetGetConfig) says, else hello:
   * hidden (invisible to clients, never primary), its priority (0: never primary) and its
   * secondaryDelaySecs when delayed.
   */
  hidden?: boolean;
  priority?: number;
  /** Its votes (0: a non-voting member), from the set's configuration. */
  votes?: number;
  /**
   * On a primary: how many of its set's voting members (the configuration's `votes`) do not
   * vote yet, by replSetGetStatus's `votingMembersCount` (MongoDB 4.4+): members added
   * `newlyAdded`, given their vote once SECONDARY. Absent when all vote.
   */
  members_without_vote?: number;
  secondary_delay_s?: number;
  pid?: number;
  uptime_s?: number;
  version?: string;
  data_dir?: string;
  /**
   * It answers a command that needs credentials without any, although the cluster has access
   * control on: it runs without it (started by hand with another configuration).
   */
  no_access_control?: boolean;
  /** It asks for credentials, although the cluster is recorded without access control. */
  asks_credentials?: boolean;
  healthy: boolean;
}

/** States in which a process serves as it should. */
const HEALTHY = new Set(["PRIMARY", "SECONDARY", "ARBITER", "RUNNING"]);

/** The reason a connection failed, in a few words (the driver's message names the cause). */
function reasonOf(e: unknown, timeoutMs: number): string {
  const text = `${(e as Error)?.message ?? e} ${
    String((e as { cause?: Error })?.cause?.message ?? "")
  }`;
  if (/ECONNREFUSED|Connection refused/i.test(text)) return "connection refused";
  if (/ENOTFOUND|EAI_AGAIN|getaddrinfo/i.test(text)) return "host name does not resolve";
  if (/EHOSTUNREACH|ENETUNREACH/i.test(text)) return "host unreachable";
  if (/timed out|timeout/i.test(text)) return `no answer within ${timeoutMs / 1000}s`;
  return text.trim().split("\n")[0].slice(0, 120);
}

/** hello and serverStatus of one process; replSetGetStatus for set members. */
async function askOne(
  m: MongoAccess,
  p: MetaProcess,
  dataDir: string | undefined,
  timeoutMs: number,
  deployed: boolean,
  cluster: string,
): Promise<Answer> {
  const base: ProcessStatus = {
    id: hostPort(p.host, p.port),
    process_id: p.id,
    host: p.host,
    port: p.port,
    role: p.role,
    ...(p.replica_set ? { replica_set: p.replica_set } : {}),
    state: "DOWN",
    healthy: false,
    ...(dataDir ? { data_dir: dataDir } : {}),
  };
  let hello: Document;
  try {
    hello = await m.withServer(
      p.host,
      p.port,
      (c) => c.db("admin").command({ hello: 1 }),
      timeoutMs,
      { auth: false },
    );
  } catch (e) {
    return {
      status: {
        ...base,
        ...(e instanceof TlsUntrustedError
          ? {
            // Not the CA's, or the CA's for another host name: a handshake refuses both.
            reason: `its TLS certificate is not one the cluster's CA signed for it (${
              e.handshake.split("\n")[0].slice(0, 300)
            })`,
            tls_untrusted: true,
          }
          : { reason: reasonOf(e, timeoutMs) }),
      },
    };
  }
  let ssError: unknown;
  const ss = await m.adminCommand(p.host, p.port, { serverStatus: 1 }, timeoutMs).catch((e) => {
    ssError = e;
    return undefined;
  });
  // 18: the stored credentials were refused (the password changed, or the user dropped, outside
  // mup): the process answers, but mup cannot act on it as it must.
  // A member its set's config no longer lists (REMOVED: hello names the set and says it has no
  // valid config, TopologyCoordinator::fillHelloForReplSet; an uninitiated one names no set): an
  // arbiter so removed authenticates no one, which is not the credentials' fault (tester70).
  const removed = !!p.replica_set && hello.setName === p.replica_set &&
    /valid replica set config/.test(String(hello.info ?? ""));
  const refused = (ssError as { code?: number } | undefined)?.code === 18 && !hello.arbiterOnly &&
    !removed;
  // Before a first deploy completed, the user may not have been created yet.
  const credentialsReason = deployed
    ? "the admin credentials mup stores do not authenticate here (changed or dropped outside " +
      "mup?): `mup cluster credentials` prints a password that no longer works, and " +
      `\`mup cluster credentials ${cluster} --password-stdin\` stores the one the user has`
    : "the cluster's admin user does not authenticate here: the unfinished first deploy may " +
      "not have created it yet";
  // An arbiter holds no users, so with access control it authenticates no one: its version is
  // asked with buildInfo, which needs no authentication (its PID comes from the pid file).
  const built = ss ? undefined : await m.withServer(
    p.host,
    p.port,
    (c) => c.db("admin").command({ buildInfo: 1 }),
    timeoutMs,
    { auth: false },
  ).catch(() => undefined);
  // Unauthorized (13) where the cluster is recorded without access control: the servers enforce
  // it (turned on outside mup, or the metadata edited): display must not say "no access control"
  // of it (tester59).
  const locked = !m.authenticates && (ssError as { code?: number } | undefined)?.code === 13;
  const lockedReason = `asks for credentials, but cluster ${cluster} is recorded without ` +
    "access control (turned on outside mup, or its metadata edited?): mup cannot log in to " +
    "manage it";
  const out: ProcessStatus = {
    ...base,
    ...(locked ? { asks_credentials: true } : {}),
    ...(ss
      ? { pid: Number(ss.pid), uptime_s: Number(ss.uptime), version: String(ss.version) }
      : built
      ? { version: String(built.version) }
      : {}),
  };
  const why = refused ? credentialsReason : locked ? lockedReason : undefined;
  if (!p.replica_set) {
    return {
      status: why
        ? { ...out, state: "RUNNING", healthy: false, reason: why }
        : { ...out, state: "RUNNING", healthy: true },
    };
  }
  if (removed) {
    return {
      status: {
        ...out,
        state: "REMOVED",
        reason: `not in replica set ${p.replica_set}'s configuration (removed outside mup?)`,
      },
    };
  }
  if (why) {
    // hello needs no login: a member with no replica set configuration yet says so there
    // (isreplicaset, no setName: MongoDB's fillHelloForReplSet), as before replSetInitiate, when
    // the admin user does not exist yet either.
    if (hello.isreplicaset === true && typeof hello.setName !== "string") {
      return {
        status: {
          ...out,
          state: "NOT_INITIATED",
          healthy: false,
          reason: "no replica set configuration yet (replSetInitiate has not run on its set)",
        },
      };
    }
    const state = hello.isWritablePrimary ? "PRIMARY" : hello.secondary ? "SECONDARY" : "UNKNOWN";
    return { status: { ...out, state, healthy: false, reason: why } };
  }
  if (hello.arbiterOnly) out.role = "arbiter";
  // A member on data of another set keeps that set's config and is no member of the recorded
  // one (mongod: REMOVED, hello names the other set): never shown as a state of this set.
  if (typeof hello.setName === "string" && hello.setName !== p.replica_set) {
    return {
      status: {
        ...out,
        state: "REMOVED",
        reason:
          `reports replica set ${hello.setName}, not ${p.replica_set}: its data belongs to ${hello.setName}`,
      },
    };
  }
  let rs: Document | undefined;
  // The member's settings (hidden, priority, delay) as the set's configuration has them now;
  // hello alone, when it cannot be read, says hidden and passive (priority 0) but no delay.
  const asked = m.adminCommand(p.host, p.port, { replSetGetConfig: 1 }, timeoutMs).then(
    (r) => r.config as Document | undefined,
    () => undefined,
  );
  let config: Document | undefined;
  try {
    [rs, config] = await Promise.all([
      m.adminCommand(p.host, p.port, { replSetGetStatus: 1 }, timeoutMs),
      asked,
    ]);
  } catch (e) {
    const code = (e as { code?: number }).code;
    return {
      status: {
        ...out,
        state: code === 94 ? "NOT_INITIATED" : "UNKNOWN",
        reason: (e as Error).message,
      },
    };
  }
  const me = (rs.members as Document[]).find((m) => m.self);
  const state = String(me?.stateStr ?? "UNKNOWN");
  Object.assign(out, memberSettings(hello, config, me?.name ?? hello.me));
  const voters = (config?.members as Document[] | undefined)?.filter((x) => (x.votes ?? 1) > 0);
  if (state === "PRIMARY" && voters && typeof rs.votingMembersCount === "number") {
    const without = voters.length - rs.votingMembersCount;
    if (without > 0) out.members_without_vote = without;
  }
  const primary = (rs.members as Document[]).find((m) => m.state === 1);
  if (state === "SECONDARY" && primary && me) {
    const lag = (new Date(primary.optimeDate).getTime() - new Date(me.optimeDate).getTime()) /
      1000;
    out.lag_s = Math.max(0, lag);
  }
  return { status: { ...out, state, healthy: HEALTHY.has(state) }, rs };
}

/**
 * A member's hidden flag, priority and delay: from the set's configuration (replSetGetConfig,
 * the member named `name`) when there is one, else from hello's `hidden` and `passive`
 * (MongoDB's hello: every priority-0 member, hidden or not, is passive). Arbiters get none.
 */
function memberSettings(
  hello: Document,
  config: Document | undefined,
  name: unknown,
): Pick<ProcessStatus, "hidden" | "priority" | "votes" | "secondary_delay_s"> {
  if (hello.arbiterOnly) return {};
  const cm = (config?.members as Document[] | undefined)?.find((x) => x.host === name);
  if (!cm) {
    return {
      hidden: hello.hidden === true,
      ...(hello.hidden === true || hello.passive === true ? { priority: 0 } : {}),
    };
  }
  // secondaryDelaySecs since MongoDB 5.0; slaveDelay before.
  const delay = Number(cm.secondaryDelaySecs ?? cm.slaveDelay ?? 0);
  return {
    hidden: cm.hidden === true,
    priority: Number(cm.priority ?? 1),
    votes: Number(cm.votes ?? 1),
    ...(delay > 0 ? { secondary_delay_s: delay } : {}),
  };
}

/**
 * The state as MongoDB's tools show a member: `SECONDARY (hidden)`, `SECONDARY (priority 0)`,
 * `SECONDARY (priority 0, non-voting)`, `SECONDARY (hidden, delayed 1h)`; other processes'
 * state as it is.
 */
export function describeState(s: ProcessStatus): string {
  const marks = [
    ...(s.hidden ? ["hidden"] : s.priority === 0 ? ["priority 0"] : []),
    ...(s.votes === 0 ? ["non-voting"] : []),
    ...(s.secondary_delay_s ? [`delayed ${formatDuration(s.secondary_delay_s * 1000)}`] : []),
  ];
  return marks.length ? `${s.state} (${marks.join(", ")})` : s.state;
}

/** Role order of TiUP's display: config servers, then shards, then mongos. */
const ROLE_RANK: Record<string, number> = { config: 0, mongod: 1, arbiter: 1, mongos: 2 };

/** Sorts rows as `cluster display` shows them: config, shards (by set), mongos; then host:port. */
export function sortStatuses(rows: ProcessStatus[]): ProcessStatus[] {
  return [...rows].sort((a, b) =>
    (ROLE_RANK[a.role] ?? 3) - (ROLE_RANK[b.role] ?? 3) ||
    (a.replica_set ?? "").localeCompare(b.replica_set ?? "") ||
    a.host.localeCompare(b.host) || a.port - b.port
  );
}

/**
 * Asks every process of `procs` at once. Each question is bounded by `timeoutMs`, so the whole
 * call takes at most about four timeouts however many hosts are dead. A set member that answers
 * is healthy only when its set counts it in (set_view.ts: the primary reaches it, it reaches
 * the primary); `cluster` (default: `procs`) holds the set's other members, asked for its
 * primary when `procs` does not hold it. `deployed` false: the cluster's first deploy did not
 * complete (its admin user may not exist yet). `name`: the cluster's, for the commands a
 * reason names.
 */
export async function probeProcesses(
  access: MongoAccess,
  procs: MetaProcess[],
  dataDirs: Map<string, string>,
  timeoutMs = ANSWER_TIMEOUT_MS,
  cluster: MetaProcess[] = procs,
  deployed = true,
  name = "<name>",
): Promise<ProcessStatus[]> {
  const answers = await Promise.all(
    procs.map((p) => askOne(access, p, dataDirs.get(p.id), timeoutMs, deployed, name)),
  );
  await judgeBySet(access, answers, cluster, timeoutMs);
  if (access.authenticates && deployed) {
    await markOpen(access, answers.map((a) => a.status), timeoutMs, name);
  }
  return sortStatuses(answers.map((a) => a.status));
}

/**
 * Marks the answering processes of a cluster with access control that list databases without
 * credentials, which a server with authorization on never does (the localhost exception
 * allows only the first user's creation): one started outside mup with another configuration
 * serves anyone (tester59). What else was said of it (another keyfile) is replaced: it runs
 * with none.
 */
async function markOpen(
  access: MongoAccess,
  statuses: ProcessStatus[],
  timeoutMs: number,
  name: string,
): Promise<void> {
  await Promise.all(
    statuses.filter((s) => s.state !== "DOWN").map(async (s) => {
      const open = await access.withServer(
        s.host,
        s.port,
        (c) => c.db("admin").command({ listDatabases: 1, nameOnly: true }),
        timeoutMs,
        { auth: false },
      ).then(() => true, () => false);
      if (!open) return;
      s.no_access_control = true;
      s.healthy = false;
      s.reason = "answers without credentials: it runs WITHOUT access control, which the " +
        "cluster has on (started outside mup with another configuration?); " +
        `\`mup cluster stop ${name} -N ${s.id}\` then \`mup cluster start ${name} -N ${s.id}\` ` +
        "starts it with its own";
    }),
  );
}

/**
 * The shards the cluster's config servers register, asked of the first answering mongos
 * (listShards), and those of them being drained (`draining: true`: a removeShard started and
 * not finished); without `shards` when none could say, with the last mongos's `error` (one whose
 * config servers do not answer fails it).
 */
export async function listedShards(
  access: MongoAccess,
  mongos: { host: string; port: number }[],
  timeoutMs = ANSWER_TIMEOUT_MS,
): Promise<{ shards?: string[]; draining?: string[]; error?: string }> {
  let error: string | undefined;
  for (const m of mongos) {
    const r = await access.adminCommand(m.host, m.port, { listShards: 1 }, timeoutMs).catch(
      (e) => {
        error = String((e as Error).message).split("\n")[0];
        return undefined;
      },
    );
    if (r) {
      const all = r.shards as Document[];
      return {
        shards: all.map((s) => String(s._id)).sort(),
        draining: all.filter((s) => s.draining === true).map((s) => String(s._id)).sort(),
      };
    }
  }
  return { error };
}
