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
import { MongoClient } from "mongodb";
import { freePorts } from "./helpers.ts";
import { installFixture } from "./fixture.ts";
import {
  admin,
  memberState,
  pidOf,
  simBin,
  startMongod,
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
      for (const p of ports) {
        const r = await startMongod(bin, dir, p, ["--replSet", "rs0"]);
        if (r.code !== 0) throw new Error(`mongod on ${p}: ${r.stdout}${r.stderr}`);
      }
      await admin(ports[0], {
        replSetInitiate: {
          _id: "rs0",
          members: ports.map((p, i) => ({
            _id: i,
            host: `localhost:${p}`,
            ...(i === 0 ? { priority: 2 } : {}),
          })),
        },
      });
      const primary = async () => {
        for (const p of ports) {
          if ((await admin(p, { hello: 1 }).catch(() => undefined))?.isWritablePrimary) return p;
        }
      };
      await waitFor(primary, 30_000);
      for (const p of ports) {
        await waitFor(
          async () => ["PRIMARY", "SECONDARY"].includes(await memberState(p)) || undefined,
          30_000,
        );
      }
      const load = new TracedLoad(
        `mongodb://${ports.map((p) => `localhost:${p}`).join(",")}/?replicaSet=rs0`,
      );
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
      } finally {
        await load.stop();
      }
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
      await load.close();
      assert.deepEqual(lost, [], "every write acknowledged with w:majority is there");
    }),
});

/** Inserts _id 1, 2, … with w:majority, recording each insert command's outcome per member. */
class TracedLoad {
  readonly acked: number[] = [];
  readonly trace: string[] = [];
  failures = 0;
  private stopped = false;
  private readonly client: MongoClient;
  private readonly done: Promise<void>;

  constructor(uri: string) {
    this.client = new MongoClient(uri, {
      retryWrites: true,
      serverSelectionTimeoutMS: 30_000,
      writeConcern: { w: "majority", wtimeoutMS: 30_000 },
      monitorCommands: true,
    });
    const ids = new Map<number, unknown>();
    this.client.on("commandStarted", (e) => {
      if (e.commandName !== "insert") return;
      ids.set(e.requestId, e.command.documents?.[0]?._id);
      this.trace.push(`${Date.now()} sent ${ids.get(e.requestId)} to ${e.address}`);
    });
    this.client.on("commandSucceeded", (e) => {
      if (!ids.has(e.requestId)) return;
      this.trace.push(
        `${Date.now()} reply ${ids.get(e.requestId)} from ${e.address}: ${JSON.stringify(e.reply)}`,
      );
    });
    this.client.on("commandFailed", (e) => {
      if (!ids.has(e.requestId)) return;
      this.trace.push(`${Date.now()} failed ${ids.get(e.requestId)} at ${e.address}: ${e.failure}`);
    });
    this.done = this.loop();
  }

  private async loop(): Promise<void> {
    const c = this.client.db("soak").collection<{ _id: number }>("load");
    for (let i = 1; !this.stopped; i++) {
      try {
        await c.insertOne({ _id: i });
        this.acked.push(i);
      } catch {
        this.failures++;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }

  /** Acknowledged _ids not in the majority snapshot, asked again for up to 10 s. */
  async missing(): Promise<number[]> {
    const c = this.client.db("soak").collection<{ _id: number }>("load");
    const end = Date.now() + 10_000;
    for (;;) {
      const docs = await c.find({}, { readConcern: { level: "majority" } }).toArray();
      const have = new Set(docs.map((d) => d._id));
      const lost = this.acked.filter((id) => !have.has(id));
      if (!lost.length || Date.now() > end) return lost;
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
