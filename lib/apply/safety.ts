import { parse } from "yaml";
import { privateDir } from "../state/atomic.ts";
import type { ExecutorFactory } from "../executor/executor.ts";
import { type MongoAccess, splitHostPort } from "../mongo/client.ts";
import { fcvText, readFcv } from "../mongo/fcv.ts";
import { runningPid } from "../ops/process.ts";
import { HEALTHY_STATES, setStatus } from "../ops/replset_status.ts";
import type { SafetyCheck } from "../plan/schema.ts";
import { describeHolder } from "../preflight/ports.ts";
import { dataDirState } from "../preflight/recorded_data.ts";
import { startsOnDataOf } from "../preflight/retained_sets.ts";
import { changedFiles, missingPaths } from "../preflight/start_files.ts";
import { sha256File } from "../util/file_hash.ts";
import { sha256Hex } from "../util/hash.ts";
import { sleep, sustained } from "../util/timer.ts";
import { setListsMembers } from "./safety_sets.ts";

export interface CheckOutcome {
  ok: boolean;
  /** What was found, e.g. "Port now in use by PID 12345". */
  status: string;
  /** A failure no wait can settle (the check is not asked again). */
  lasting?: boolean;
  /** Members (`host:port`) that did not answer: what a start would bring back. */
  down?: string[];
  /** What finishes the work when a resume alone cannot (a lasting failure's way on). */
  replan?: string;
}

/**
 * One check type's runner. `interrupt` is the apply's first Ctrl-C: a runner that asks again
 * while the world settles gives its outcome at once instead of waiting its grace out.
 */
type Runner = (
  c: SafetyCheck,
  ex: ExecutorFactory,
  m: MongoAccess,
  interrupt?: AbortSignal,
) => Promise<CheckOutcome>;

const p = (c: SafetyCheck, k: string) => c.params[k] as string;

/** How long a member that did not answer `hello` is asked again before it counts as down. */
const ANSWER_GRACE_MS = 10_000;

/**
 * Whether every member answers `hello`. One missed answer is not enough to call a member down:
 * on a loaded host a server that has just started may take longer than one `hello`'s timeout,
 * so the silent ones are asked again until ANSWER_GRACE_MS has passed.
 */
async function allAnswer(
  access: MongoAccess,
  members: string[],
  interrupt?: AbortSignal,
): Promise<CheckOutcome> {
  const ask = async (ms: string[]) => {
    const answers = await Promise.all(ms.map((m) => access.hello(...splitHostPort(m))));
    return ms.filter((_, i) => !answers[i]);
  };
  const end = Date.now() + ANSWER_GRACE_MS;
  let down = await ask(members);
  while (down.length && Date.now() < end && !interrupt?.aborted) {
    await sleep(250);
    down = await ask(down);
  }
  return down.length
    ? { ok: false, status: `not answering: ${down.join(", ")}`, down }
    : { ok: true, status: "all running" };
}

/** How long a replica set that is not yet healthy is asked again before the check fails. */
const SETTLE_GRACE_MS = 30_000;
/** How long members that do not answer at all may stay so before a set's health check fails. */
const DOWN_GRACE_MS = 10_000;

/**
 * Every member but `except` says itself (replSetGetStatus, asked directly rather than through
 * one member's heartbeat view) that it is PRIMARY, SECONDARY or ARBITER, and one is primary.
 */
async function setHealth(
  c: SafetyCheck,
  access: MongoAccess,
): Promise<CheckOutcome & { onlyDown?: boolean }> {
  const except = c.params.except as string | undefined;
  const others = (c.params.members as string[]).filter((m) => m !== except);
  const states = await Promise.all(others.map(async (m) => {
    const st = await access.adminCommand(...splitHostPort(m), { replSetGetStatus: 1 })
      .catch((e) => ({ error: (e as Error).message }));
    if ("error" in st) return `not answering (${String(st.error).split("\n")[0]})`;
    return String(
      (st.members as { self?: boolean; stateStr: string }[]).find((x) => x.self)?.stateStr,
    );
  }));
  const bad = others.map((m, i) => [m, states[i]]).filter(([, s]) => !HEALTHY_STATES.has(s));
  const down = bad.filter(([, s]) => s.startsWith("not answering")).map(([m]) => m);
  if (bad.length) {
    return {
      ok: false,
      status: bad.map(([m, s]) => `${m} is ${s}`).join(", "),
      ...(down.length ? { down } : {}),
      // Nothing but members that do not answer: no state of theirs to settle.
      ...(down.length === bad.length ? { onlyDown: true } : {}),
    };
  }
  if (!states.includes("PRIMARY") && except === undefined) {
    return { ok: false, status: `replica set ${c.target} has no primary` };
  }
  if (!states.includes("PRIMARY")) {
    // The excepted member may be the primary itself (a stop after its step-down is not).
    const own = await setStatus(access, [except!]);
    if (!own?.members?.some((x: { state: number }) => x.state === 1)) {
      return { ok: false, status: `replica set ${c.target} has no primary` };
    }
    // A rolling restart stops its secondaries first and steps the primary down last: in a plan
    // made before its stops stepped a primary down (`secondary`, no step_down_first), a member
    // planned as a secondary that is primary now would be stopped without a step-down.
    if (c.params.secondary === true) {
      return {
        ok: false,
        lasting: true,
        status: `${except} is the primary of ${c.target} now, not the secondary the plan stops ` +
          "here (the primary moved since the plan was made): make the plan again",
      };
    }
  }
  return { ok: true, status: "every other member is healthy" };
}

/** Runtime checks by check_type: the world may have changed since the plan was made. */
const RUNNERS: Record<string, Runner> = {
  async port_available(c, ex) {
    const host = p(c, "host");
    const port = Number(c.params.port);
    if (await ex.forHost(host).portFree(port)) return { ok: true, status: `port ${port} is free` };
    const holder = await ex.forHost(host).portHolder?.(port).catch(() => undefined);
    // Its own server, run with its configuration file by an earlier start (an apply stopped
    // while it came up): the start finds it and waits for it rather than start another.
    const config = c.params.config as string | undefined;
    if (config && holder?.command?.includes(config)) {
      return { ok: true, status: `port ${port} is held by its own server (pid ${holder.pid})` };
    }
    const conn = holder
      ? undefined
      : await ex.forHost(host).portConnection?.(port).catch(() => undefined);
    return {
      ok: false,
      status: `Port now in use${
        holder ? ` by ${describeHolder(holder)}` : conn ? ` by ${conn}` : ""
      }`,
    };
  },
  /**
   * The binary is on the host and, when the plan knows its checksum, is that one: a deploy
   * compares it with the verified download (`source`), a later start with the sha256 the
   * deploy recorded (`sha256`).
   */
  async binary_present(c, ex) {
    const actual = await ex.forHost(p(c, "host")).sha256(p(c, "path"));
    if (!actual) return { ok: false, status: `binary ${p(c, "path")} is missing` };
    const source = c.params.source as string | undefined;
    const recorded = c.params.sha256 as string | undefined;
    if (recorded) {
      return actual === recorded ? { ok: true, status: "binary is the one installed" } : {
        ok: false,
        status: `binary ${p(c, "path")} is not the one mup installed (sha256 ${
          actual.slice(0, 12)
        }…, installed ${recorded.slice(0, 12)}…)${
          c.params.repair ? `: install it again with \`${c.params.repair}\` (a repair)` : ""
        }`,
      };
    }
    const expected = source ? await sha256File(source) : undefined;
    if (expected && actual !== expected) {
      return {
        ok: false,
        status: `binary ${p(c, "path")} does not match the checksum of the verified download`,
      };
    }
    return { ok: true, status: "binary present" };
  },
  async config_valid(c, ex) {
    const data = await ex.forHost(p(c, "host")).readFile(p(c, "path"));
    if (!data) return { ok: false, status: `configuration file ${p(c, "path")} is missing` };
    const recorded = c.params.sha256 as string | undefined;
    const actual = recorded ? sha256Hex(data) : undefined;
    if (recorded && actual !== recorded) {
      return {
        ok: false,
        status: `configuration file ${p(c, "host")}:${p(c, "path")}${
          c.params.process ? ` of ${c.params.process}` : ""
        } differs from the one mup generates for it from the recorded cluster (sha256 ${
          actual?.slice(0, 12)
        }…, expected ${recorded.slice(0, 12)}…)${
          c.params.repair
            ? `: write it again with \`${c.params.repair}\` (a repair), then plan again`
            : ""
        }`,
      };
    }
    try {
      const doc = parse(new TextDecoder().decode(data));
      if (Number(doc?.net?.port) !== Number(c.params.port)) {
        return {
          ok: false,
          status: `configuration file sets port ${doc?.net?.port}, the plan says ${c.params.port}`,
        };
      }
    } catch (e) {
      return {
        ok: false,
        status: `configuration file is not valid YAML: ${(e as Error).message.split("\n")[0]}`,
      };
    }
    return { ok: true, status: "configuration valid" };
  },
  async process_not_running(c, ex) {
    const host = ex.forHost(p(c, "host"));
    const pid = await runningPid(host, p(c, "pid_file"));
    if (!pid) return { ok: true, status: "not running" };
    // Its own server, run with its configuration file by an earlier start (an apply stopped
    // while it came up, which wrote its pid file after the start's isDone looked): the start
    // finds it and waits for it, as port_available lets it.
    const config = c.params.config as string | undefined;
    if (config && await runningPid(host, p(c, "pid_file"), config) === pid) {
      return { ok: true, status: `its own server is running (PID ${pid})` };
    }
    return {
      ok: false,
      status: `a process (PID ${pid}) from ${p(c, "pid_file")} is already running`,
    };
  },
  /**
   * Every member but `except` says itself (replSetGetStatus, asked directly rather than through
   * one member's heartbeat view) that it is PRIMARY, SECONDARY or ARBITER, and one is primary.
   */
  async replica_set_healthy(c, _ex, access, interrupt) {
    // A member rolling back, recovering or syncing, or a set holding an election, settles by
    // itself: it is asked again until SETTLE_GRACE_MS has passed before the check fails. Members
    // that do not answer at all (their process gone: only a start brings them back) fail it
    // once that has lasted DOWN_GRACE_MS.
    const end = Date.now() + SETTLE_GRACE_MS;
    const t0 = Date.now();
    const lastingDown = sustained(DOWN_GRACE_MS);
    for (;;) {
      const found = await setHealth(c, access);
      if (found.lasting) return found;
      if (interrupt?.aborted && !found.ok) return found;
      const { onlyDown, ...outcome } = found;
      if (
        found.ok || Date.now() >= end || lastingDown(onlyDown ? found.down?.join(",") : undefined)
      ) {
        return found.ok ? outcome : {
          ...outcome,
          status: `${found.status} (still, after ${Math.round((Date.now() - t0) / 1000)} s)`,
        };
      }
      await sleep(500);
    }
  },
  /**
   * The member's featureCompatibilityVersion (getParameter) is one mongod `series` starts on:
   * its own or the previous series' (MongoDB docs: "Upgrade a Replica Set"; a binary refuses
   * data at an older FCV and exits). A member that does not answer is left to the other checks
   * (its stop finds nothing to stop).
   */
  async fcv_startable(c, _ex, access) {
    const series = p(c, "series");
    const f = await readFcv(access, p(c, "host"), Number(c.params.port));
    if (!f) return { ok: true, status: "not answering: nothing to check" };
    const now = fcvText(f);
    if (!f.targetVersion && startsOnDataOf(series, f.version)) {
      return { ok: true, status: `feature compatibility version ${f.version}` };
    }
    return {
      ok: false,
      lasting: true,
      status: `${p(c, "process")} is at feature compatibility version ${now}, which mongod ` +
        `${series} does not start on (only ${series}'s or the previous series'): the FCV ` +
        "changed since the plan was made. Make the plan again (`mup cluster upgrade` checks the " +
        "FCV first)",
    };
  },
  dependencies_running: (c, _ex, m, i) => allAnswer(m, c.params.members as string[], i),
  members_reachable: (c, _ex, m, i) => allAnswer(m, c.params.members as string[], i),
  set_lists_members: (c, _ex, m, i) => setListsMembers(c, m, i),
  /**
   * A start does not bring a standalone or a whole replica set back empty: its data directory
   * holds MongoDB data, or another member of its set does (MongoDB's initial sync copies it).
   */
  async data_present(c, ex) {
    const own = await dataDirState(ex, p(c, "host"), p(c, "path"));
    if (own !== "empty" && own !== "missing") return { ok: true, status: "data in place" };
    const others = (c.params.others ?? []) as { host: string; path: string }[];
    const states = await Promise.all(others.map((o) => dataDirState(ex, o.host, o.path)));
    if (states.some((s) => s !== "empty" && s !== "missing")) {
      return { ok: true, status: `data directory ${own}: initial sync from its replica set` };
    }
    return {
      ok: false,
      status:
        `data directory ${p(c, "host")}:${p(c, "path")} of ${p(c, "process")} is ${own}${
          c.params.replica_set
            ? `, and no other member of ${c.params.replica_set} holds data to copy it from`
            : ""
        }: started, it would begin as a new, empty database with a new admin user. Restore the ` +
        "data (from a backup or snapshot), then resume or plan again; or, to start empty on " +
        "purpose, destroy the cluster and deploy it anew",
    };
  },
  /**
   * The files a process's start reads (configuration, binary, keyfile, certificates) are on its
   * host, a binary and the configuration with the sha256 each must have: the stop of a restart
   * does not run when the start could not follow it, or would start it as not recorded.
   */
  async files_present(c, ex) {
    const files = (c.params.files ?? []) as { path: string; what: string; sha256?: string }[];
    // On a start (a start plan's), not on a restart's stop.
    const atStart = c.params.at === "start";
    const onIt = atStart ? "started, it would run on it" : "stopped, it would start again on it";
    const missing = await missingPaths(ex.forHost(p(c, "host")), files.map((f) => f.path));
    if (!missing) return { ok: false, status: `could not look for the files on ${p(c, "host")}` };
    const gone = files.filter((_, i) => missing.has(i));
    if (!gone.length) {
      const changed = await changedFiles(ex.forHost(p(c, "host")), files);
      const first = [...changed][0];
      if (!first) return { ok: true, status: "files in place" };
      const [i, actual] = first;
      if (files[i].what === "configuration file") {
        return {
          ok: false,
          status: `${files[i].what} ${p(c, "host")}:${files[i].path} of ${
            p(c, "process")
          } differs from the one mup generates for it from the recorded cluster (sha256 ${
            actual.slice(0, 12)
          }…, expected ${
            files[i].sha256?.slice(0, 12)
          }…): ${onIt}, not as recorded. Write it again with \`${
            p(c, "repair")
          }\` (a repair), then plan again`,
        };
      }
      return {
        ok: false,
        status:
          `${files[i].what} ${p(c, "host")}:${files[i].path} of ${
            p(c, "process")
          } is not the one mup installed (sha256 ${actual.slice(0, 12)}…): ${onIt}. Install it ` +
          `again with \`${p(c, "repair")}\` (a repair), then plan again`,
      };
    }
    return {
      ok: false,
      status: `${gone.map((f) => `${f.what} ${p(c, "host")}:${f.path}`).join(", ")} of ${
        p(c, "process")
      } ${gone.length === 1 ? "is" : "are"} missing: ${
        atStart ? "it cannot start" : "stopped, it could not start again"
      }. Install ${gone.length === 1 ? "it" : "them"} again with \`${
        p(c, "repair")
      }\` (a repair), then plan again`,
    };
  },
  async disk_space(c, ex) {
    const free = await ex.forHost(c.target).freeDiskMb(p(c, "path"));
    const need = Number(c.params.min_mb ?? 0);
    return free >= need
      ? { ok: true, status: `${free}MB free` }
      : { ok: false, status: `only ${free}MB free, ${need}MB needed` };
  },
  async cache_writable(c) {
    try {
      await privateDir(p(c, "path"));
      const probe = `${p(c, "path")}/.write-test-${Deno.pid}`;
      await Deno.writeTextFile(probe, "");
      await Deno.remove(probe);
      return { ok: true, status: "writable" };
    } catch (e) {
      return {
        ok: false,
        status: `cache ${p(c, "path")} is not writable: ${(e as Error).message}`,
      };
    }
  },
  async archive_checksum(c) {
    const sha = await sha256File(p(c, "path"));
    if (sha === undefined) return { ok: false, status: `${p(c, "path")} is missing` };
    return sha === p(c, "sha256")
      ? { ok: true, status: "checksum matches" }
      : { ok: false, status: `${p(c, "path")} does not match sha256 ${p(c, "sha256")}` };
  },
};

/** Runs one safety check; `access` is the cluster's client (mongo/client.ts). */
export async function runCheck(
  c: SafetyCheck,
  ex: ExecutorFactory,
  access: MongoAccess,
  interrupt?: AbortSignal,
): Promise<CheckOutcome> {
  const r = RUNNERS[c.check_type];
  if (!r) {
    return { ok: false, status: `unknown check type "${c.check_type}" (plan from a newer mup?)` };
  }
  try {
    return await r(c, ex, access, interrupt);
  } catch (e) {
    return { ok: false, status: `check could not run: ${(e as Error).message}` };
  }
}
