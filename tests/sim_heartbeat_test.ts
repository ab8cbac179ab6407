/**
 * Heartbeats are scheduled per member: a member frozen with SIGSTOP (it accepts connections but
 * never answers) must not delay the heartbeats between the others, so the set neither swaps its
 * primary nor runs elections while one member hangs.
 */
import assert from "node:assert/strict";
import { type Document, MongoClient } from "mongodb";
import { freePorts } from "./helpers.ts";
import { pidOf, simBin, startReplSet, waitFor, withDir } from "./sim_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

/** How long the set is watched once the freeze is in effect (ms). */
const WATCH_MS = 10_000;

/** What one live member says of the set: whom it follows, its term, the frozen member's health. */
interface Seen {
  port: number;
  primary?: string;
  term: number;
  frozenHealth?: number;
}

async function look(port: number, client: MongoClient, frozen: string): Promise<Seen> {
  const db = client.db("admin");
  const hello = await db.command({ hello: 1 });
  const status = await db.command({ replSetGetStatus: 1 });
  const f = (status.members as Document[]).find((m) => m.name === frozen);
  return {
    port,
    primary: hello.primary as string | undefined,
    term: Number(status.term),
    frozenHealth: f?.health as number | undefined,
  };
}

/**
 * Watches the live members for WATCH_MS, and at least until both report the frozen member's
 * health as 0 (so the freeze was noticed), asserting at every poll that each names `primary` and
 * is at `term`.
 */
async function assertStable(
  clients: Map<number, MongoClient>,
  frozen: string,
  primary: string,
  term: number,
): Promise<number> {
  const start = Date.now();
  let polls = 0;
  for (;;) {
    const seen = await Promise.all([...clients].map(([p, c]) => look(p, c, frozen)));
    polls++;
    for (const s of seen) {
      assert.equal(
        s.primary,
        primary,
        `member ${s.port} names primary ${s.primary} (poll ${polls})`,
      );
      assert.equal(s.term, term, `member ${s.port} is at term ${s.term} (poll ${polls})`);
    }
    if (Date.now() - start >= WATCH_MS && seen.every((s) => s.frozenHealth === 0)) return polls;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Direct clients to `ports`; closed by the caller. */
function directClients(ports: number[]): Map<number, MongoClient> {
  return new Map(ports.map((p) => [
    p,
    new MongoClient(
      `mongodb://localhost:${p}/?directConnection=true&serverSelectionTimeoutMS=30000`,
    ),
  ]));
}

Deno.test("simulator: heartbeats: a SIGSTOPped secondary does not make the other two swap the primary or raise the term", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const ports = freePorts(3);
    await startReplSet(bin, dir, ports);
    const primaryPort = ports[0];
    const frozenPort = ports[2];
    const frozenPid = pidOf(dir, frozenPort);
    const clients = directClients([primaryPort, ports[1]]);
    let stopped = false;
    try {
      // The secondary follows the primary before the freeze.
      const before = await waitFor(async () => {
        const s = await look(ports[1], clients.get(ports[1])!, `localhost:${frozenPort}`);
        return s.primary === `localhost:${primaryPort}` ? s : undefined;
      });
      Deno.kill(frozenPid, "SIGSTOP");
      stopped = true;
      const polls = await assertStable(
        clients,
        `localhost:${frozenPort}`,
        `localhost:${primaryPort}`,
        before.term,
      );
      console.log(`frozen secondary: ${polls} polls, primary and term ${before.term} unchanged`);
    } finally {
      if (stopped) Deno.kill(frozenPid, "SIGCONT");
      for (const c of clients.values()) await c.close();
    }
  });
});

Deno.test("simulator: heartbeats: with the primary SIGSTOPped the other two elect one of them, which stays primary", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const ports = freePorts(3);
    await startReplSet(bin, dir, ports);
    const frozenPort = ports[0];
    const frozen = `localhost:${frozenPort}`;
    const frozenPid = pidOf(dir, frozenPort);
    const live = ports.slice(1);
    const clients = directClients(live);
    let stopped = false;
    try {
      const before = await waitFor(async () => {
        const seen = await Promise.all(live.map((p) => look(p, clients.get(p)!, frozen)));
        return seen.every((s) => s.primary === frozen) ? seen[0] : undefined;
      });
      Deno.kill(frozenPid, "SIGSTOP");
      stopped = true;
      const after = await waitFor(async () => {
        const seen = await Promise.all(live.map((p) => look(p, clients.get(p)!, frozen)));
        const p = seen[0].primary;
        return p && p !== frozen && seen.every((s) => s.primary === p && s.term === seen[0].term)
          ? seen[0]
          : undefined;
      }, 30_000);
      // One election, or a few when votes split; not a duel of candidates each raising the term
      // while the frozen member holds the other's vote count open.
      assert.ok(
        after.term > before.term && after.term <= before.term + 3,
        `term ${after.term} after ${before.term}`,
      );
      const polls = await assertStable(clients, frozen, after.primary!, after.term);
      console.log(
        `frozen primary: ${after.primary} elected in term ${after.term}; ${polls} polls, unchanged`,
      );
    } finally {
      if (stopped) Deno.kill(frozenPid, "SIGCONT");
      for (const c of clients.values()) await c.close();
    }
  });
});
