/**
 * `--host-gone <host>` of a destroy or a scale-in: the operator declares a host gone for good (a
 * dead machine, a terminated instance). Its processes' state cannot be asked, so without it the
 * plan is refused (host_unreachable, lifecycle_build.ts) and nothing could ever stop, shrink or
 * destroy the cluster. With it, nothing is planned on that host and what it held is forgotten,
 * said in the review. Only a host mup could not reach is taken as gone: one that answers gets
 * the real work. Pure.
 */
import { hostPort, sameHostName } from "../topology/hosts.ts";
import { shellQuote } from "../executor/shell_quote.ts";
import { firstFew } from "../util/format.ts";
import type { ProcessFact } from "./lifecycle.ts";
import type { ValidationIssue } from "./schema.ts";
import type { ProcessSpec } from "./processes.ts";

interface HostProcess {
  id: string;
  host: string;
  port: number;
}

/**
 * Whether `host` is one of `gone`, by the name the topology gives it (case and a final dot
 * aside): not by machine (hosts.ts `hostKey`), since each SSH host is reached, and lost, on its
 * own, and the tests' 127.0.0.2 and 127.0.0.3 are two hosts of one machine.
 */
export function onGoneHost(gone: string[] | undefined, host: string): boolean {
  return !!gone?.length && gone.some((g) => sameHostName(g, host));
}

/**
 * The refusals of `--host-gone` hosts: one the cluster does not have (naming those it has), and
 * one whose processes mup could ask (it is not gone; the command without the flag does the
 * work there). `command` is the command to name, such as "cluster destroy c1".
 */
export function goneHostErrors(
  gone: string[],
  processes: HostProcess[],
  facts: Record<string, ProcessFact>,
  command: string,
): ValidationIssue[] {
  const errors: ValidationIssue[] = [];
  const hosts = [...new Set(processes.map((p) => p.host))];
  for (const g of gone) {
    const here = processes.filter((p) => sameHostName(p.host, g));
    // `--host-gone --plan-only` takes the next flag as its value: said, not matched.
    if (!g.trim() || g.startsWith("-")) {
      errors.push({
        code: "host_gone_value",
        severity: "error",
        message: `--host-gone ${g || "''"}: a host name was expected (one of ${
          hosts.join(", ")
        }); give it right after --host-gone`,
      });
    } else if (!here.length) {
      errors.push({
        code: "host_gone_unknown",
        severity: "error",
        host: g,
        message: `--host-gone ${g}: the cluster has no process on ${g} (its hosts: ${
          hosts.join(", ")
        })`,
      });
    } else if (here.some((p) => facts[p.id]?.unreachable && facts[p.id]?.answering)) {
      const up = here.filter((p) => facts[p.id]?.answering).map((p) => hostPort(p.host, p.port));
      errors.push({
        code: "host_not_gone",
        severity: "error",
        host: g,
        message:
          `--host-gone ${g}: SSH cannot reach ${g}, but ${firstFew(up)} ${
            up.length === 1 ? "answers" : "answer"
          } there: the host is not gone. Forgotten, ${
            up.length === 1 ? "it" : "they"
          } would run on outside the cluster; make ${g} reachable over SSH and plan \`mup ` +
          `${command}\` without --host-gone ${g}`,
      });
    } else if (here.some((p) => !facts[p.id]?.unreachable)) {
      errors.push({
        code: "host_not_gone",
        severity: "error",
        host: g,
        message: `--host-gone ${g}: mup reached ${g} and asked whether ${
          firstFew(here.map((p) => p.id))
        } ${here.length === 1 ? "runs" : "run"}: it is not gone. Plan \`mup ${command}\` ` +
          `without --host-gone ${g}, and the plan stops and removes what is there`,
      });
    }
  }
  return errors;
}

type ForgottenProcess = HostProcess & {
  role: string;
  dirs: { data: string; log: string; config: string; deploy: string };
};

/** The directories a forgotten process leaves on its host: data (not a mongos's), log, config, deploy. */
export function forgottenPaths(procs: ForgottenProcess[]): string[] {
  return [
    ...new Set(
      procs.flatMap((p) => [
        ...(p.role === "mongos" ? [] : [p.dirs.data]),
        p.dirs.log,
        p.dirs.config,
        p.dirs.deploy,
      ]),
    ),
  ];
}

/**
 * The review's account of what a gone host keeps: its processes are forgotten, not stopped, and
 * their directories not removed; if the machine comes back, they may run again with the
 * cluster's keyfile and data, so the operator stops them and removes the directories by hand.
 */
export function goneHostWarning(
  host: string,
  procs: ForgottenProcess[],
  what: "destroy" | "scale-in",
  /** The deploy root on that host: its binaries and keyfile stay too. */
  root: string,
): ValidationIssue {
  const dirs = forgottenPaths(procs);
  const one = procs.length === 1;
  return {
    code: "host_gone",
    severity: "warning",
    host,
    message: `${host} is taken as gone for good (--host-gone): this ${what} does nothing there. ` +
      `${one ? "Its process" : "Its processes"} ${
        procs.map((p) => `${p.id} (${hostPort(p.host, p.port)})`).join(", ")
      } ${one ? "is" : "are"} forgotten, not stopped, and ${
        one ? "its" : "their"
      } directories are not removed: ${dirs.join(", ")}; nor are the binaries and the keyfile ` +
      `mup installed under ${root}. If ${host} comes back, stop ${
        one ? "it" : "them"
      } and remove those yourself: ${
        what === "scale-in"
          ? `a member the set no longer lists must not start again with the cluster's data`
          : `they hold the cluster's data`
      }`,
  };
}

/**
 * What a scale-in with `--host-gone` cannot do: keep a process of a gone host (nothing could run
 * or stop it), or take out a whole shard that lives only there (no member is left to drain its
 * chunks from: its data is gone with the host, and removeShard would never finish).
 */
export function lostHostErrors(
  procs: ProcessSpec[],
  sets: { name: string; configsvr?: boolean; members: ProcessSpec[] }[],
  removed: Set<string>,
  lost: (p: ProcessSpec) => boolean,
  name: string,
): ValidationIssue[] {
  const errors: ValidationIssue[] = [];
  const kept = procs.filter((p) => lost(p) && !removed.has(p.id));
  for (const host of new Set(kept.map((p) => p.host))) {
    const here = kept.filter((p) => p.host === host);
    errors.push({
      code: "host_gone_kept",
      severity: "error",
      host,
      message: `--host-gone ${host}: this scale-in keeps ${
        here.map((p) => hostPort(p.host, p.port)).join(", ")
      }, which nothing could run or stop there: remove every process of ${host} (\`mup ` +
        `cluster scale-in ${name} ${
          procs.filter((p) =>
            lost(p) && p.host === host
          ).map((p) => `-N ${hostPort(p.host, p.port)}`).join(" ")
        } --host-gone ${host}\`)`,
    });
  }
  for (const s of sets.filter((s) => !s.configsvr && s.members.length)) {
    if (!s.members.every((m) => removed.has(m.id))) continue;
    if (!s.members.every(lost)) continue;
    errors.push({
      code: "shard_gone",
      severity: "error",
      host: s.members[0].host,
      message: `shard ${s.name} has every member on a --host-gone host: no member is left to ` +
        "drain its chunks from, and removeShard would never finish. mup cannot remove a shard " +
        "whose data is lost; bring one of its hosts back (its data with it) and scale in without " +
        "--host-gone",
    });
  }
  return errors;
}

/**
 * What to do when the host will never come back: a destroy or a scale-in takes it as gone
 * (`--host-gone`); a stop, start or restart can leave it out with `-N` (the others' nodes).
 */
export function goneHint(
  operation: string,
  cluster: string,
  host: string,
  nodes: string[],
): string {
  const gone = `--host-gone ${shellQuote(host)}`;
  const scaleIn = `\`mup cluster scale-in ${cluster} ${
    nodes.map((n) => `-N ${shellQuote(n)}`).join(" ")
  } ${gone}\``;
  if (operation === "destroy") {
    return `. If ${host} is gone for good, \`mup cluster destroy ${cluster} ${gone}\` removes ` +
      `the rest and forgets what ${host} held`;
  }
  if (operation === "scale-in") {
    return `. If ${host} is gone for good, ${scaleIn} removes every process it held: the sets ` +
      `remove its members through their primaries, and nothing is done on ${host}`;
  }
  if (["stop", "start", "restart"].includes(operation)) {
    return `. If ${host} is gone for good, ${scaleIn} removes what it held from the cluster (or ` +
      `\`mup cluster destroy ${cluster} ${gone}\` the whole cluster); -N selects the other ` +
      "processes meanwhile";
  }
  return "";
}

/**
 * One `host_unreachable` error per host of `unknown` (processes whose host SSH could not ask):
 * mup does not plan on a guess. `--host-gone` is offered (goneHint) only for a host that may be
 * gone: not for a refused login or a changed host key, nor for one whose servers answer
 * (tester96). `all`: every process of the cluster, for the hint's `-N` list.
 */
export function unreachableErrors(
  operation: string,
  cluster: string,
  all: { id: string; host: string; port: number }[],
  unknown: { id: string; host: string; port: number }[],
  facts: Record<string, ProcessFact>,
): ValidationIssue[] {
  return [...new Set(unknown.map((p) => p.host))].map((host) => {
    const here = unknown.filter((p) => p.host === host);
    const why = facts[here[0].id]?.unreachable ?? "";
    const mayBeGone = !here.some((p) => facts[p.id]?.answering) &&
      !/refused authentication|host key/i.test(why);
    const hint = mayBeGone
      ? goneHint(
        operation,
        cluster,
        host,
        all.filter((p) => p.host === host).map((p) => hostPort(p.host, p.port)),
      )
      : "";
    return {
      code: "host_unreachable",
      severity: "error" as const,
      host,
      message: `${host} could not be asked whether ${
        firstFew(here.map((p) => p.id))
      } ${
        here.length === 1
          ? "runs"
          : "run"
      } (${why}): mup does not plan on a guess. Make ${host} reachable over SSH (\`mup ` +
        "cluster display` asks the servers themselves, not SSH: it may show them answering), " +
        `then plan again${hint}`,
    };
  });
}
