/**
 * Simulator figures (printed, not asserted): what a member costs in CPU (to start, and each
 * second it idles in a 3-member set: the test suite is CPU-bound on them), inserts per second
 * with `w: 1` and `w: "majority"` on a 3-member replica set, and the peak RSS (VmHWM) of one
 * simulated member holding 100,000 small documents.
 */
import { MongoClient } from "mongodb";
import { freePorts, killAll } from "../tests/helpers.ts";
import { pidOf, simBin, startMongod, startReplSet } from "../tests/sim_helpers.ts";

const INSERTS = 2000;

/** Sequential insertOne calls (one round trip each, as an application does). */
async function insertRate(client: MongoClient, w: 1 | "majority"): Promise<number> {
  const coll = client.db("bench").collection(`w_${w}`);
  await coll.insertOne({ warm: true }, { writeConcern: { w } });
  const t0 = performance.now();
  for (let i = 0; i < INSERTS; i++) await coll.insertOne({ i, pad: "x" }, { writeConcern: { w } });
  return INSERTS / ((performance.now() - t0) / 1000);
}

/** CPU seconds (user + system) process `pid` has used so far. */
function cpuSeconds(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / 100; // clock ticks: 100 per second on Linux
}

const IDLE_S = 10;

function peakRssKb(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
}

/** Runs both measurements; everything started is killed whatever happens. */
export async function benchSim(): Promise<void> {
  const bin = await simBin("7.0.14");
  const dir = await Deno.makeTempDir({ prefix: "mup-bench-sim-" });
  try {
    const ports = freePorts(4);
    await startReplSet(bin, dir, ports.slice(0, 3));
    const pids = ports.slice(0, 3).map((p) => pidOf(dir, p));
    const atStart = pids.map(cpuSeconds);
    await new Promise((r) => setTimeout(r, IDLE_S * 1000));
    const idle = pids.map((p, i) => (cpuSeconds(p) - atStart[i]) / IDLE_S * 100);
    console.log(
      `simulator member CPU: started and initiated ${
        atStart.map((s) => s.toFixed(2)).join(", ")
      } s (the first initiated the set); idle in a 3-member set ${
        idle.map((p) => p.toFixed(1)).join(", ")
      } % of a core (over ${IDLE_S} s)`,
    );
    const c = new MongoClient(
      `mongodb://${ports.slice(0, 3).map((p) => `localhost:${p}`).join(",")}/?replicaSet=rs0`,
    );
    try {
      const w1 = await insertRate(c, 1);
      const wm = await insertRate(c, "majority");
      console.log(
        `simulator inserts/s on a 3-member set (${INSERTS} sequential insertOne): w:1 ${
          w1.toFixed(0)
        }/s, w:"majority" ${wm.toFixed(0)}/s`,
      );
    } finally {
      await c.close();
    }
    const solo = ports[3];
    const r = await startMongod(bin, dir, solo);
    if (r.code !== 0) throw new Error(r.stdout + r.stderr);
    const s = new MongoClient(`mongodb://localhost:${solo}/?directConnection=true`);
    try {
      const coll = s.db("bench").collection("small");
      const t0 = performance.now();
      for (let b = 0; b < 100; b++) {
        await coll.insertMany(
          Array.from({ length: 1000 }, (_, i) => ({ n: b * 1000 + i, s: "abc" })),
        );
      }
      const secs = (performance.now() - t0) / 1000;
      const count = await coll.countDocuments();
      const pid = pidOf(dir, solo);
      console.log(
        `simulator member with ${count.toLocaleString("en")} small documents: peak RSS ${
          (peakRssKb(pid) / 1024).toFixed(0)
        } MB (loaded in ${secs.toFixed(1)} s by insertMany of 1,000)`,
      );
    } finally {
      await s.close();
    }
  } finally {
    await killAll(dir);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  await benchSim();
  Deno.exit(0);
}
