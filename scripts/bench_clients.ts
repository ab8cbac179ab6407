/**
 * `deno task bench clients`: what one question to a server costs mup — a fresh driver client
 * per question (as every question was asked before reuse) vs a kept client (reuseClients, as
 * the CLI asks now) — in CPU milliseconds of mup and of the (simulated) server, and wall time.
 * Printed, not asserted. Everything started is killed whatever happens.
 */
import process from "node:process";
import { closeReusedClients, MongoAccess, reuseClients } from "../lib/mongo/client.ts";
import { freePorts, killAll } from "../tests/helpers.ts";
import { pidOf, simBin, startMongod } from "../tests/sim_helpers.ts";

const QUESTIONS = 200;

function serverCpuMs(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) * 10; // clock ticks: 100 per second on Linux
}

const ownCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

export async function benchClients(): Promise<void> {
  const bin = await simBin("7.0.14");
  const dir = await Deno.makeTempDir({ prefix: "mup-bench-clients-" });
  try {
    const [port] = freePorts(1);
    await startMongod(bin, dir, port, []);
    const pid = pidOf(dir, port);
    const access = new MongoAccess();
    for (const reuse of [false, true]) {
      if (reuse) reuseClients();
      await access.adminCommand("localhost", port, { ping: 1 }); // warm: driver loaded
      const [c0, s0, t0] = [ownCpuMs(), serverCpuMs(pid), performance.now()];
      for (let i = 0; i < QUESTIONS; i++) {
        await access.adminCommand("localhost", port, { ping: 1 });
      }
      const [c1, s1, t1] = [ownCpuMs(), serverCpuMs(pid), performance.now()];
      await closeReusedClients();
      console.log(
        `${reuse ? "kept client " : "fresh client"} per question: mup ${
          ((c1 - c0) / QUESTIONS).toFixed(1)
        } ms CPU, server ${((s1 - s0) / QUESTIONS).toFixed(1)} ms CPU, ${
          ((t1 - t0) / QUESTIONS).toFixed(1)
        } ms wall (${QUESTIONS} pings, no TLS, no login)`,
      );
    }
  } finally {
    await killAll(dir);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
