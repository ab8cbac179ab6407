/**
 * Elections begin with a dry run at the current term, which no voter records (MongoDB's
 * VoteRequester, protocol version 1 since 3.4): a member that cannot win does not raise the
 * term. Left alone, a member keeps its term however often it tries; once a voter is back, a
 * real election raises it by one and elects.
 * https://www.mongodb.com/docs/manual/core/replica-set-elections/
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { freePorts, output } from "./helpers.ts";
import {
  admin,
  killMember,
  primaryAmong,
  simBin,
  startMongod,
  startReplSet,
  waitFor,
  withDir,
} from "./sim_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

const termOf = async (port: number) => Number((await admin(port, { replSetGetStatus: 1 })).term);

Deno.test("simulator: a member that cannot win an election does not raise its term (dry run); with a voter back it is elected at the next term", async () => {
  await withDir(async (dir) => {
    const ports = freePorts(3);
    const bin = await simBin("7.0.5");
    await startReplSet(bin, dir, ports);
    for (const p of ports.slice(1)) await killMember(dir, p);
    // The primary steps down once it cannot see a majority, then tries again and again.
    await waitFor(async () => !(await admin(ports[0], { hello: 1 })).isWritablePrimary, 30_000);
    const term = await termOf(ports[0]);
    const log = path.join(dir, String(ports[0]), "log");
    const dryRuns = async () =>
      (await Deno.readTextFile(log)).split("\n").filter((l) =>
        l.includes('"id":21440') && l.includes('"dryRun":true')
      ).length;
    const seen = await dryRuns();
    await waitFor(async () => (await dryRuns()) >= seen + 3 || undefined, 30_000);
    assert.equal(await termOf(ports[0]), term, "three lost dry runs left the term as it was");
    // A voter back: the next election is real, one term up.
    const r = await startMongod(bin, dir, ports[1], ["--replSet", "rs0", "--logappend"]);
    assert.equal(r.code, 0, output(r));
    await waitFor(
      async () => (await admin(ports[0], { hello: 1 })).isWritablePrimary || undefined,
      30_000,
    );
    assert.equal(await termOf(ports[0]), term + 1);
  });
});

Deno.test("simulator: a primary's handoff (replSetStepDown) has the caught-up secondary skip its dry run, as MongoDB's replSetStepUp with skipDryRun does; a member standing after a primary's death runs one first", async () => {
  await withDir(async (dir) => {
    const ports = freePorts(3);
    const bin = await simBin("7.0.5");
    await startReplSet(bin, dir, ports);
    // Whole lines only: a mark is the count of lines ended so far.
    const lines = async (port: number, since = 0) =>
      (await Deno.readTextFile(path.join(dir, String(port), "log"))).split("\n").slice(0, -1)
        .slice(since);
    const marks = await Promise.all(ports.map(async (p) => (await lines(p)).length));
    const term = await termOf(ports[0]);
    // The driver sees the step-down end the connection (or answer ok): either is a step-down.
    await admin(ports[0], { replSetStepDown: 60, secondaryCatchUpPeriodSecs: 10 }).catch(() => {});
    const next = await primaryAmong(ports.slice(1));
    const handed = await lines(next, marks[ports.indexOf(next)]);
    assert.ok(
      handed.some((l) => l.includes('"id":21437') && l.includes(`"newTerm":${term + 1}`)),
      handed.join("\n"),
    );
    assert.ok(!handed.some((l) => l.includes('"id":21438')), "no dry run on a handoff");
    assert.ok(handed.some((l) => l.includes('"id":21450')), "its election succeeded");

    // The new primary killed: the member that stands next runs a dry run first.
    const rest = ports.filter((p) => p !== next);
    const restMarks = await Promise.all(rest.map(async (p) => (await lines(p)).length));
    await killMember(dir, next);
    const after = await primaryAmong(rest, 60_000);
    const stood = await lines(after, restMarks[rest.indexOf(after)]);
    const dry = stood.findIndex((l) => l.includes('"id":21438'));
    const won = stood.findIndex((l) => l.includes('"id":21444'));
    assert.ok(dry >= 0 && won > dry, stood.join("\n"));
  });
});

Deno.test("simulator: a frozen member is unelectable: replSetStepUp is refused (125) until replSetFreeze: 0, and a primary's handoff does not make it primary", async () => {
  await withDir(async (dir) => {
    const ports = freePorts(3);
    const bin = await simBin("7.0.5");
    // Member 2 cannot be elected at all: the frozen member 1 is the only candidate.
    await startReplSet(bin, dir, ports);
    const config = (await admin(ports[0], { replSetGetConfig: 1 })).config as {
      version: number;
      members: { priority?: number }[];
    };
    config.members[2].priority = 0;
    await admin(ports[0], { replSetReconfig: { ...config, version: config.version + 1 } });
    await admin(ports[1], { replSetFreeze: 30 });
    const refused = await admin(ports[1], { replSetStepUp: 1 }).then(
      () => undefined,
      (e: { code?: number }) => e.code,
    );
    assert.equal(refused, 125, "a frozen member refuses to step up");
    // The primary steps down (its handoff asks the frozen member, which refuses): for the
    // freeze's time no member is elected in its place.
    await admin(ports[0], { replSetStepDown: 10, secondaryCatchUpPeriodSecs: 5 });
    for (const end = Date.now() + 3000; Date.now() < end;) {
      assert.notEqual((await admin(ports[1], { hello: 1 })).isWritablePrimary, true);
      await new Promise((r) => setTimeout(r, 200));
    }
    // Unfrozen, it stands when asked.
    await admin(ports[1], { replSetFreeze: 0 });
    await waitFor(async () => {
      await admin(ports[1], { replSetStepUp: 1 }).catch(() => {});
      return (await admin(ports[1], { hello: 1 })).isWritablePrimary || undefined;
    }, 30_000);
    assert.equal(await primaryAmong(ports), ports[1]);
  });
});
