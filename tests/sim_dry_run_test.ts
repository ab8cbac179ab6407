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
