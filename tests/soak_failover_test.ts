/**
 * A durability soak, run on demand (`[MUP_SOAK_CYCLES=40] deno task soak-failover`; the suite
 * leaves it out): a client writes with w:"majority" and retryable writes while a three-member
 * set whose first member has priority 2 goes through that many rolling restarts as mup's plan
 * does them (secondaries frozen and restarted one by one, the primary stepped down, restarted,
 * and the priority-2 member taking the primary back). Every acknowledged write must be there
 * afterwards; it prints the figures, and on a loss keeps each write's command trace and the
 * members' logs and data under /tmp for the diagnosis.
 *
 * Rare races hide from the suite's single rolling restart: before the simulator's
 * replSetUpdatePosition carried the member's term, 80 cycles lost 5 of 53,630 acknowledged
 * writes here (a priority takeover's voter still counted by the old primary).
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { freePorts } from "./helpers.ts";
import { installFixture } from "./fixture.ts";
import { WriteLoad } from "./lifecycle_helpers.ts";
import {
  admin,
  memberState,
  pidOf,
  rsUri,
  simBin,
  startMongod,
  startReplSet,
  stopMongod,
  waitFor,
  withDir,
} from "./sim_helpers.ts";

installFixture();

const CYCLES = Deno.env.get("MUP_SOAK") ? Number(Deno.env.get("MUP_SOAK_CYCLES") ?? 40) : 0;

Deno.test({
  name: "soak: rolling restarts with a priority takeover under w:majority writes lose nothing",
  ignore: !(CYCLES > 0),
  fn: () =>
    withDir(async (dir) => {
      const bin = await simBin("7.0.5");
      const ports = freePorts(3);
      // Member 0 has priority 2: it takes the primary back after each of its restarts.
      await startReplSet(bin, dir, ports);
      const primary = async () => {
        for (const p of ports) {
          if ((await admin(p, { hello: 1 }).catch(() => undefined))?.isWritablePrimary) return p;
        }
      };
      const load = new WriteLoad(rsUri(ports), "load", {}, true);
      const restart = async (p: number) => {
        const pid = pidOf(dir, p);
        await admin(p, { shutdown: 1 }).catch(() => {});
        await stopMongod(dir, p).catch(() => {});
        await waitFor(async () => !(await Deno.stat(`/proc/${pid}`).then(() => true, () => false)));
        const r = await startMongod(bin, dir, p, ["--replSet", "rs0"]);
        if (r.code !== 0) throw new Error(`restart of ${p}: ${r.stdout}${r.stderr}`);
        await waitFor(async () => (await memberState(p)) === "SECONDARY" || undefined, 30_000);
      };
      const t0 = performance.now();
      try {
        for (let c = 0; c < CYCLES; c++) {
          const was = await waitFor(primary, 30_000);
          for (const p of ports.filter((x) => x !== was)) {
            await admin(p, { replSetFreeze: 60 }).catch(() => {});
            await restart(p);
          }
          await admin(was, { replSetStepDown: 60, secondaryCatchUpPeriodSecs: 10 });
          await waitFor(async () => {
            const now = await primary();
            return now !== undefined && now !== was ? now : undefined;
          }, 30_000);
          await restart(was);
          if (was === ports[0]) {
            await waitFor(async () => (await primary()) === ports[0] || undefined, 60_000);
          }
        }
        const n = load.acked.length;
        await waitFor(() => Promise.resolve(load.acked.length > n + 20 || undefined), 30_000);
        await load.stop();
        const lost = await load.missing();
        console.log(
          `${CYCLES} rolling restarts in ${((performance.now() - t0) / 1000).toFixed(0)} s: ` +
            `${load.acked.length} writes acknowledged, ${load.failures} failed attempts, ` +
            `${lost.length} acknowledged but missing${lost.length ? ` (${lost.join(", ")})` : ""}`,
        );
        if (lost.length) {
          const out = await Deno.makeTempDir({ dir: "/tmp", prefix: "mup-soak-lost-" });
          await Deno.writeTextFile(path.join(out, "trace.txt"), load.trace.join("\n"));
          await new Deno.Command("cp", { args: ["-r", dir, path.join(out, "members")] }).output();
          console.log(`trace and members' logs and data kept in ${out}`);
        }
        assert.deepEqual(lost, [], "every write acknowledged with w:majority is there");
      } finally {
        await load.stop();
        await load.close();
      }
    }),
});
