/**
 * Issue 10's failover test: a client writes with w: "majority" and retryable writes while the
 * primary is killed with SIGKILL ten times; afterwards every acknowledged write is present
 * exactly once.
 */
import assert from "node:assert/strict";
import { MongoClient } from "mongodb";
import { freePorts } from "./helpers.ts";
import {
  killMember,
  memberState,
  rsUri,
  simBin,
  startMongod,
  startReplSet,
  waitFor,
  withDir,
} from "./sim_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

Deno.test("simulator: failover: w:majority retryable writes while the primary is SIGKILLed ten times; every acknowledged write present exactly once", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const ports = freePorts(3);
    await startReplSet(bin, dir, ports);
    const client = new MongoClient(rsUri(ports, "&retryWrites=true&w=majority"));
    const acked: number[] = [];
    const failed: number[] = [];
    const errors: string[] = [];
    let incAcked = 0, incFailed = 0;
    let stop = false;
    try {
      const db = client.db("app");
      const writer = (async () => {
        for (let seq = 0; !stop; seq++) {
          try {
            await db.collection("seq").insertOne({ seq });
            acked.push(seq);
          } catch (e) {
            failed.push(seq);
            errors.push(`insert: ${(e as Error).message}`);
          }
          try {
            await db.collection("counter").updateOne({ _id: "c" } as never, { $inc: { n: 1 } }, {
              upsert: true,
            });
            incAcked++;
          } catch (e) {
            incFailed++;
            errors.push(`$inc: ${(e as Error).message}`);
          }
        }
      })();
      try {
        for (let round = 0; round < 10; round++) {
          const before = acked.length;
          await waitFor(() => Promise.resolve(acked.length >= before + 5 || undefined), 60_000);
          const primary = String((await db.admin().command({ hello: 1 })).primary);
          const port = Number(primary.split(":")[1]);
          await killMember(dir, port);
          await waitFor(async () => {
            const h = await db.admin().command({ hello: 1 });
            return h.primary && h.primary !== primary ? true : undefined;
          }, 60_000);
          const r = await startMongod(bin, dir, port, ["--replSet", "rs0", "--logappend"]);
          assert.equal(r.code, 0, r.stdout + r.stderr);
        }
        const last = acked.length;
        await waitFor(() => Promise.resolve(acked.length >= last + 5 || undefined), 60_000);
      } finally {
        stop = true;
        await writer;
      }
      for (const p of ports) {
        await waitFor(async () => {
          const s = await memberState(p);
          return s === "PRIMARY" || s === "SECONDARY" || undefined;
        }, 60_000);
      }
      const counts = new Map<number, number>();
      for (const d of await db.collection("seq").find().toArray()) {
        counts.set(d.seq, (counts.get(d.seq) ?? 0) + 1);
      }
      for (const s of acked) assert.equal(counts.get(s), 1, `acknowledged insert ${s}`);
      for (const s of failed) assert.ok((counts.get(s) ?? 0) <= 1, `failed insert ${s}`);
      const n = (await db.collection("counter").findOne({ _id: "c" } as never))?.n ?? 0;
      assert.ok(
        n >= incAcked && n <= incAcked + incFailed,
        `$inc applied ${n} times; ${incAcked} acknowledged, ${incFailed} failed`,
      );
      console.log(
        `failover: ${acked.length} inserts acknowledged (${failed.length} failed), $inc ${incAcked} acknowledged (${incFailed} failed), counter ${n}`,
      );
      if (errors.length) console.log(`failed writes: ${[...new Set(errors)].join("; ")}`);
    } finally {
      await client.close();
    }
  });
});
