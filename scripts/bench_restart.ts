/**
 * `deno task bench restart`: restart of the example sharded cluster (2 shards × 3 members, 3
 * config servers, 1 mongos) on the simulator while a client inserts with w:"majority" and
 * retryable writes through mongos: rolling (the default) against --force. Prints the total
 * time, the longest time without an acknowledged write (overall, and while the replica sets
 * rolled, before the only mongos restarts), and the elections' durations. Asserts nothing.
 */
import * as path from "node:path";
import type { ApplyState } from "../lib/state/schema.ts";
import { buildMirror } from "../sim/mirror.ts";
import { deployArgs, mup, shardedTopology } from "../tests/helpers.ts";
import { stablePorts, WriteLoad } from "../tests/lifecycle_helpers.ts";
import { authOptions } from "../tests/apply_helpers.ts";
import { signalPidFiles } from "./_pids.ts";

async function cli(home: string, args: string[]): Promise<string> {
  const r = await mup(args, { home });
  if (r.code !== 0) throw new Error(`mup ${args.join(" ")} failed:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** Where the longest stretch without an acknowledged write inside [from, to] lies. */
function gapWindow(times: number[], from: number, to: number): [number, number] {
  let best: [number, number] = [from, from];
  let last = from;
  for (const t of [...times.filter((x) => x >= from && x <= to), to]) {
    if (t - last > best[1] - best[0]) best = [last, t];
    last = t;
  }
  return best;
}

/** The longest stretch without an acknowledged write inside [from, to] (ms since the epoch). */
function longestGap(times: number[], from: number, to: number): number {
  let best = 0;
  let last = from;
  for (const t of times) {
    if (t < from) continue;
    if (t > to) {
      best = Math.max(best, t - last);
      return best;
    }
    best = Math.max(best, t - last);
    last = t;
  }
  return Math.max(best, to - last);
}

const ms = (s?: string) => (s ? Date.parse(s) : NaN);

async function once(
  home: string,
  mirror: string,
  name: string,
  force: boolean,
  routers = 1,
) {
  const p = stablePorts(9 + routers);
  const mongos = p.slice(9);
  const topo = path.join(home, `${name}.yaml`);
  // shardedTopology lists one mongos; further ones continue its mongos_servers list.
  await Deno.writeTextFile(
    topo,
    shardedTopology(
      p,
      mongos.slice(1).map((port) => `  - { host: localhost, port: ${port} }\n`).join(""),
    ),
  );
  await cli(home, deployArgs(name, topo, mirror, ["--auto-approve"]));
  // The cluster has access control (mup's default): the load logs in as its admin user.
  const load = new WriteLoad(
    `mongodb://${mongos.map((port) => `localhost:${port}`).join(",")}/`,
    "load",
    await authOptions({ home, cluster: name }),
  );
  try {
    while (load.acked.length < 50) await new Promise((r) => setTimeout(r, 20));
    const t0 = Date.now();
    await cli(home, ["cluster", "restart", name, "--auto-approve", ...(force ? ["--force"] : [])]);
    const t1 = Date.now();
    const after = load.acked.length;
    while (load.acked.length < after + 50) await new Promise((r) => setTimeout(r, 20));
    await load.stop();
    let missing = await load.missing();
    const firstMissing = missing.length;
    if (missing.length) {
      // Read again a little later: a stale majority snapshot catches up, a lost write does not.
      await new Promise((r) => setTimeout(r, 3000));
      missing = await load.missing();
    }
    const state: ApplyState = JSON.parse(await cli(home, ["state", "show", name, "--json"]));
    const mongosPhase = state.phase_states["restart-mongos"];
    const setsEnd = mongosPhase ? ms(mongosPhase.started_at) : t1;
    const elections = Object.values(state.operation_states)
      .filter((o) => o.id.startsWith("wait-primary-") || o.id.startsWith("step-down-"))
      .reduce((m, o) => {
        const set = o.id.replace(/^(wait-primary|step-down)-/, "");
        m.set(set, (m.get(set) ?? 0) + ms(o.completed_at) - ms(o.started_at));
        return m;
      }, new Map<string, number>());
    const [g0, g1] = gapWindow(load.ackedAt, t0, t1);
    const during = Object.values(state.operation_states).filter((o) =>
      ms(o.started_at) < g1 && (ms(o.completed_at) || t1) > g0
    ).map((o) =>
      `${o.id} ${ms(o.started_at) - g0 >= 0 ? "+" : ""}${ms(o.started_at) - g0}..${
        ms(o.completed_at) - g0
      } ms`
    );
    return {
      during,
      total: t1 - t0,
      gap: longestGap(load.ackedAt, t0, t1),
      setsGap: longestGap(load.ackedAt, t0, setsEnd),
      elections: [...elections.values()],
      acked: load.acked.length,
      missing: missing.length,
      firstMissing,
    };
  } finally {
    await load.stop();
    await load.close();
    await signalPidFiles(path.join(home, "storage", "clusters", name), "SIGKILL");
  }
}

/** Prints the figures of `runs` rolling and `runs` forced restarts. */
export async function benchRestart(runs = 2): Promise<void> {
  const home = await Deno.makeTempDir({ prefix: "mup-bench-restart-" });
  const mirror = path.join(home, "mirror");
  await buildMirror(mirror, { versions: ["7.0.14"] });
  console.log(
    "restart of a sharded cluster (2×3 shards, 3 config, 1 mongos) under a w:majority client through mongos:",
  );
  for (const [force, routers] of [[false, 1], [false, 2], [true, 1]] as const) {
    for (let i = 0; i < runs; i++) {
      const label = force ? "force" : `rolling${routers}`;
      const r = await once(home, mirror, `${label}-${i}`, force, routers);
      console.log(
        `  ${force ? "--force " : `rolling, ${routers} mongos`} total ${
          (r.total / 1000).toFixed(1)
        } s; longest write outage ${r.gap.toFixed(0)} ms${
          force
            ? ""
            : ` (${
              r.setsGap.toFixed(0)
            } ms while the replica sets rolled, before the mongos restarted)`
        }; ${r.acked} writes acknowledged, ${r.firstMissing} of them missing when read back at once, ${r.missing} 3 s later${
          !force && r.elections.length
            ? `; step-down + election per set: ${
              r.elections.map((e) => e.toFixed(0)).join(", ")
            } ms`
            : ""
        }`,
      );
      console.log(
        `           operations running during the longest outage (start..end from its beginning): ${
          r.during.join(", ")
        }`,
      );
    }
  }
  console.log("  (target: rolling outage < one election + 1 s)");
  await Deno.remove(home, { recursive: true }).catch(() => {});
}

if (import.meta.main) await benchRestart(Number(Deno.args[0] ?? 2));
