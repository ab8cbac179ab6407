/**
 * Heartbeats are scheduled per member: a member frozen with SIGSTOP (it accepts connections but
 * never answers) must not delay the heartbeats between the others, so the set neither swaps its
 * primary nor runs elections while one member hangs.
 */
import assert from "node:assert/strict";
import type { Document, MongoClient } from "mongodb";
import { waitFor, withFreezableSet } from "./sim_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

/** How long the set is watched once the freeze is in effect (ms). */
const WATCH_MS = 10_000;

/** What one live member says of the set: whom it follows, its term, its peers' health. */
interface Seen {
  port: number;
  primary?: string;
  term: number;
  /** health of each other member (by host) in this member's replSetGetStatus. */
  health: Map<string, number>;
}

async function look(port: number, client: MongoClient): Promise<Seen> {
  const db = client.db("admin");
  const hello = await db.command({ hello: 1 });
  const status = await db.command({ replSetGetStatus: 1 });
  return {
    port,
    primary: hello.primary as string | undefined,
    term: Number(status.term),
    health: new Map(
      (status.members as Document[]).filter((m) => !m.self).map((m) => [m.name, m.health]),
    ),
  };
}

/**
 * Waits until every member of `clients` names the same primary at the same term and sees every
 * other member healthy; returns that primary and term.
 */
function settled(clients: Map<number, MongoClient>): Promise<Seen> {
  return waitFor(async () => {
    const seen = await Promise.all([...clients].map(([p, c]) => look(p, c)));
    const [first] = seen;
    return first.primary &&
        seen.every((s) =>
          s.primary === first.primary && s.term === first.term &&
          [...s.health.values()].every((h) => h === 1)
        )
      ? first
      : undefined;
  }, 30_000);
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
    const seen = await Promise.all([...clients].map(([p, c]) => look(p, c)));
    polls++;
    for (const s of seen) {
      assert.equal(
        s.primary,
        primary,
        `member ${s.port} names primary ${s.primary} (poll ${polls})`,
      );
      assert.equal(s.term, term, `member ${s.port} is at term ${s.term} (poll ${polls})`);
    }
    const noticed = seen.every((s) => s.health.get(frozen) === 0);
    if (Date.now() - start >= WATCH_MS && noticed) return polls;
    await new Promise((r) => setTimeout(r, 200));
  }
}

Deno.test("simulator: heartbeats: a SIGSTOPped secondary (each in turn) does not make the other two swap the primary or raise the term", async () => {
  await withFreezableSet(3, async ({ ports, clients, freeze, thaw }) => {
    // Each secondary in turn: whether the old rounds' delay hit the election timeout hung on
    // how the members' rounds happened to line up, so two freezes make a miss unlikely.
    let lastFrozen: number | undefined;
    for (let turn = 0; turn < 2; turn++) {
      const before = await settled(clients);
      const frozenPort = ports.find((p) =>
        `localhost:${p}` !== before.primary && p !== lastFrozen
      )!;
      const frozen = `localhost:${frozenPort}`;
      const live = new Map([...clients].filter(([p]) => p !== frozenPort));
      const frozenPid = freeze(frozenPort);
      const polls = await assertStable(live, frozen, before.primary!, before.term);
      thaw(frozenPid);
      // Until the thawed member has heard the primary again, its views are from before the
      // freeze, and an election timer it runs late may yet call one: the next turn waits for
      // that heartbeat, so whatever the thaw brings has happened before it settles.
      const thawedAt = Date.now();
      await waitFor(async () => {
        const st = await clients.get(frozenPort)!.db("admin").command({ replSetGetStatus: 1 });
        const row = (st.members as Document[]).find((m) => m.name === before.primary);
        return row && new Date(row.lastHeartbeat).getTime() > thawedAt;
      }, 30_000);
      lastFrozen = frozenPort;
      console.log(
        `${frozen} frozen: ${polls} polls, primary ${before.primary} and term ${before.term} unchanged`,
      );
    }
  });
});

Deno.test("simulator: heartbeats: with the primary SIGSTOPped the other two elect one of them, which stays primary", async () => {
  await withFreezableSet(3, async ({ clients, freeze }) => {
    const before = await settled(clients);
    const frozen = before.primary!;
    const frozenPort = Number(frozen.split(":")[1]);
    const live = new Map([...clients].filter(([p]) => p !== frozenPort));
    freeze(frozenPort);
    const after = await waitFor(async () => {
      const seen = await Promise.all([...live].map(([p, c]) => look(p, c)));
      const p = seen[0].primary;
      return p && p !== frozen && seen.every((s) => s.primary === p && s.term === seen[0].term)
        ? seen[0]
        : undefined;
    }, 30_000);
    // One election, or a few when votes split; not a duel of candidates each raising the term
    // while the frozen member holds the other's vote count open.
    assert.ok(
      after.term > before.term && after.term <= before.term + 4,
      `term ${after.term} after ${before.term}`,
    );
    const polls = await assertStable(live, frozen, after.primary!, after.term);
    console.log(
      `${frozen} (primary) frozen: ${after.primary} elected in term ${after.term}; ${polls} polls, unchanged`,
    );
  });
});

Deno.test("simulator: replSetReconfig waits for a majority to install the config (MaxTimeMSExpired past maxTimeMS), and the next one for the current config to be committed (CurrentConfigNotCommittedYet), as MongoDB 4.4+ does", async () => {
  await withFreezableSet(3, async ({ ports, clients, freeze, thaw }) => {
    const before = await settled(clients);
    const primaryPort = Number(before.primary!.split(":")[1]);
    const admin = clients.get(primaryPort)!.db("admin");
    const config = async () => (await admin.command({ replSetGetConfig: 1 })).config as Document;
    const reconfig = async (maxTimeMS?: number) => {
      const c = await config();
      delete c.term;
      c.version++;
      return await admin.command({ replSetReconfig: c, ...(maxTimeMS ? { maxTimeMS } : {}) })
        .then(() => 0, (e) => (e as { code: number }).code);
    };
    // A long election timeout keeps the primary primary while both others are frozen.
    const long = await config();
    delete long.term;
    long.version++;
    long.settings = { ...long.settings, electionTimeoutMillis: 120_000 };
    await admin.command({ replSetReconfig: long });
    const pids = ports.filter((p) => p !== primaryPort).map(freeze);
    assert.equal(await reconfig(800), 50, "installed here only: MaxTimeMSExpired");
    assert.equal(await reconfig(800), 308, "the current config is not committed yet");
    for (const pid of pids) thaw(pid);
    assert.equal(await reconfig(), 0, "once the others install it, the next reconfig proceeds");
  });
});
