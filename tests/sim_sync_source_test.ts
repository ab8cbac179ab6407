/**
 * Sync source re-evaluation: a secondary whose sync source is frozen (SIGSTOP: it accepts
 * connections but never answers) must not keep waiting on its fetch from it once heartbeats say
 * it is down or that another member is primary in a newer term; it follows the new primary, so
 * a w:majority write there is acknowledged while the old primary is still frozen.
 */
import assert from "node:assert/strict";
import type { Document, MongoClient } from "mongodb";
import { waitFor, withFreezableSet } from "./sim_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

/** What one member says of itself and of `frozen`: hello's primary, replSetGetStatus' fields. */
interface Seen {
  port: number;
  primary?: string;
  state: string;
  syncSourceHost: string;
  /** health of the frozen member in this member's replSetGetStatus (1 before the freeze). */
  frozenHealth: number;
}

async function look(port: number, client: MongoClient, frozen: string): Promise<Seen> {
  const db = client.db("admin");
  const hello = await db.command({ hello: 1 });
  const status = await db.command({ replSetGetStatus: 1 });
  const members = status.members as Document[];
  const self = members.find((m) => m.self)!;
  return {
    port,
    primary: hello.primary as string | undefined,
    state: String(self.stateStr),
    syncSourceHost: String(self.syncSourceHost ?? ""),
    frozenHealth: Number(members.find((m) => m.name === frozen)?.health ?? 0),
  };
}

/**
 * The behaviour under test, checked at every poll: a secondary that reports the frozen member
 * DOWN (health 0) no longer names it as its sync source: the heartbeat that marked it down
 * also made it give the fetch from it up. Returns the violation, if any (polls run inside
 * waitFor, which retries on errors, so they are collected and asserted at the end).
 */
function followsDown(s: Seen, frozen: string, polls: number): string | undefined {
  if (s.state !== "SECONDARY" || s.frozenHealth !== 0 || s.syncSourceHost !== frozen) {
    return undefined;
  }
  return `localhost:${s.port} reports ${frozen} down but still names it its sync source (poll ${polls})`;
}

/**
 * Polls of the `live` members' views, each checked with `followsDown`; `violations` collects
 * what the checks found.
 */
function watcher(live: number[], clients: Map<number, MongoClient>, frozen: string) {
  const w = {
    polls: 0,
    violations: [] as string[],
    poll: async (): Promise<Seen[]> => {
      const seen = await Promise.all(live.map((p) => look(p, clients.get(p)!, frozen)));
      w.polls++;
      for (const s of seen) {
        const v = followsDown(s, frozen, w.polls);
        if (v) w.violations.push(v);
      }
      return seen;
    },
  };
  return w;
}

/** Waits until every member of `ports` names `primary` as primary and as its sync source. */
function following(ports: number[], clients: Map<number, MongoClient>, primary: string) {
  return waitFor(async () => {
    const seen = await Promise.all(ports.map((p) => look(p, clients.get(p)!, primary)));
    return seen.every((s) => s.primary === primary && s.syncSourceHost === primary) ||
      undefined;
  }, 30_000);
}

Deno.test("simulator: sync source: with the primary SIGSTOPped, the secondary that lost the election follows the new primary while the old one is still frozen, and a w:majority write there is acknowledged", async () => {
  await withFreezableSet(3, async ({ ports, clients, freeze }) => {
    const primary = `localhost:${ports[0]}`;
    // Both secondaries follow the primary before it freezes.
    const live = ports.slice(1);
    await following(live, clients, primary);
    const frozenPid = freeze(ports[0]);
    const w = watcher(live, clients, primary);
    const poll = w.poll;
    // Both live members agree on a new primary among them.
    const newPrimary = await waitFor(async () => {
      const seen = await poll();
      const p = seen[0].primary;
      return p && p !== primary && seen.every((s) => s.primary === p) ? p : undefined;
    }, 30_000);
    const newPort = Number(newPrimary.split(":")[1]);
    const other = live.find((p) => p !== newPort)!;
    const status = await clients.get(newPort)!.db("admin").command({ replSetGetStatus: 1 });
    const electedAt = new Date(
      (status.members as Document[]).find((m) => m.self)!.electionDate,
    ).getTime();
    // The write, and meanwhile the remaining secondary watched: it must leave the frozen
    // member for the new primary (a majority of two needs it), and never name the frozen
    // member as its source once it reports it down.
    let acked = false;
    let ackedAt = 0;
    let followedAt: number | undefined;
    let followedBeforeAck = false;
    const write = clients.get(newPort)!.db("app").collection("c").insertOne(
      { after: "freeze" },
      { writeConcern: { w: "majority", wtimeoutMS: 60_000 } },
    ).finally(() => {
      acked = true;
      ackedAt = Date.now();
    });
    const watching = (async () => {
      while (!acked) {
        const [s] = (await poll().catch(() => [])).filter((x) => x.port === other);
        if (s?.syncSourceHost === newPrimary && followedAt === undefined) {
          followedAt = Date.now();
          followedBeforeAck = !acked;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const [r] = await Promise.all([write, watching]);
    assert.ok(r.acknowledged, "w:majority write acknowledged");
    // The ack may come before a poll saw the switch; the secondary names the new primary now.
    const after = await look(other, clients.get(other)!, primary);
    assert.equal(after.syncSourceHost, newPrimary, `localhost:${other}'s sync source`);
    assert.equal(after.state, "SECONDARY");
    // Still frozen: the switch did not wait for the old primary to answer again.
    assert.equal(
      (await Deno.readTextFile(`/proc/${frozenPid}/stat`)).split(") ")[1][0],
      "T",
      "the old primary stayed stopped throughout",
    );
    console.log(
      `${primary} frozen: ${newPrimary} elected; w:majority ack ${
        ackedAt - electedAt
      } ms after the election; localhost:${other} seen following it ${
        followedAt === undefined ? "(after the ack)" : `${followedAt - electedAt} ms after`
      }${
        followedBeforeAck ? " (before the ack)" : ""
      }; ${w.polls} polls, ${w.violations.length} saw it follow the frozen member it reported down`,
    );
    assert.deepEqual(w.violations.slice(0, 3), [], `${w.violations.length} polls`);
  });
});

Deno.test("simulator: sync source: with the primary SIGSTOPped and no secondary electable, the secondaries give it up as their source once they see it down, and follow it again once it resumes", async () => {
  await withFreezableSet(3, async ({ ports, clients, freeze, thaw }) => {
    const primary = `localhost:${ports[0]}`;
    const live = ports.slice(1);
    await following(live, clients, primary);
    // No election: what is left to test is the source going down, not a new primary.
    for (const p of live) await clients.get(p)!.db("admin").command({ replSetFreeze: 600 });
    const frozenPid = freeze(ports[0]);
    const w = watcher(live, clients, primary);
    const down = await waitFor(async () => {
      const seen = await w.poll();
      return seen.every((s) => s.frozenHealth === 0) ? seen : undefined;
    }, 30_000);
    const sources = down.map((s) => `localhost:${s.port}: "${s.syncSourceHost}"`).join(", ");
    thaw(frozenPid);
    await following(live, clients, primary);
    const r = await clients.get(ports[0])!.db("app").collection("c").insertOne(
      { after: "resume" },
      { writeConcern: { w: "majority", wtimeoutMS: 60_000 } },
    );
    assert.ok(r.acknowledged, "w:majority write acknowledged");
    console.log(
      `${primary} frozen, seen down by both: sync sources then ${sources}; ${w.polls} polls, ${w.violations.length} saw a member follow the frozen member it reported down`,
    );
    assert.deepEqual(w.violations.slice(0, 3), [], `${w.violations.length} polls`);
  });
});
