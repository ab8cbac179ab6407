import assert from "node:assert/strict";
import {
  balancerLine,
  downNote,
  downOnTheirOwn,
  startedNote,
  withoutVoteNotes,
} from "./display_notes.ts";
import { stoppedOnPurpose } from "./display_output.ts";
import type { ProcessStatus } from "../probe/live.ts";
import type { ClusterMeta } from "../state/meta.ts";

const meta = {
  version: "6.0.15",
  balancer_stopped_by: { plan_id: "plan-1", state_id: "apply-1", at: "2026-12-05T00:00:00Z" },
} as ClusterMeta;

Deno.test("balancerLine: an upgrade that stopped the balancer names the way to start it: its resume, else an upgrade to the recorded release, or (members part way on a newer one) to that (tester45)", () => {
  assert.match(
    balancerLine("sh", meta, "off", "apply-1"),
    /`mup plan resume sh` or the next upgrade starts it again; without one, `mup cluster upgrade sh --version 6\.0\.15`, the release it runs, starts only the balancer\)$/,
  );
  // Some processes run 7.0.5 already: an upgrade to 6.0.15 would be a downgrade for them.
  const part = balancerLine("sh", meta, "off", undefined, "7.0.5");
  assert.match(
    part,
    /without one, `mup cluster upgrade sh --version 7\.0\.5`, the release some processes run already, finishes moving the rest and starts it\)$/,
  );
  assert.doesNotMatch(part, /6\.0\.15/);
  assert.equal(balancerLine("sh", meta, "on", undefined, "7.0.5"), "Balancer: on");
});

Deno.test("balancerLine: off and not by mup is said so, with how it starts again (tester53)", () => {
  const meta = { name: "sh", version: "7.0.5" } as ClusterMeta;
  assert.equal(balancerLine("sh", meta, "on", undefined), "Balancer: on");
  assert.equal(
    balancerLine("sh", meta, "off", undefined),
    "Balancer: off (stopped outside mup: no chunk moves between shards until it is started " +
      "again, `sh.startBalancer()` through mongos)",
  );
});

Deno.test("withoutVoteNotes: one line per set whose primary counts members without their vote yet, none otherwise", () => {
  const row = (extra: Partial<ProcessStatus>) =>
    ({
      id: "h:1",
      replica_set: "rs0",
      state: "PRIMARY",
      healthy: true,
      ...extra,
    }) as ProcessStatus;
  assert.deepEqual(withoutVoteNotes([row({})]), []);
  const [line, ...rest] = withoutVoteNotes([row({ members_without_vote: 2 }), row({ id: "h:2" })]);
  assert.equal(rest.length, 0);
  assert.match(line, /^Note: rs0: 2 of its voting members do not vote yet \(its primary h:1/);
  assert.match(
    line,
    /no cluster-wide default write concern is set, one whose vote would change the set.s implicit default[\s\S]*setDefaultRWConcern/,
  );
});

Deno.test("stoppedOnPurpose: while an unfinished destroy or scale-in stopped members, a set's 'start them' is not the advice (tester96); after a stop or a crash it stays", () => {
  const rows = [
    {
      id: "a:1",
      state: "SECONDARY",
      reason: "the set has no primary …; b:2 is down or unreachable: start them",
    },
    { id: "b:2", state: "DOWN", reason: "connection refused" },
  ] as unknown as Parameters<typeof stoppedOnPurpose>[0];
  const unfinished = (
    operation: string,
  ) => ({ operation } as unknown as Parameters<typeof stoppedOnPurpose>[1]);
  const [a, b] = stoppedOnPurpose(rows, unfinished("destroy"));
  assert.equal(
    a.reason,
    "the set has no primary …; b:2 is down or unreachable (the unfinished destroy stopped them)",
  );
  assert.equal(b.reason, "connection refused");
  assert.deepEqual(stoppedOnPurpose(rows, unfinished("restart")), rows);
  assert.deepEqual(stoppedOnPurpose(rows, undefined), rows);
});

Deno.test("downOnTheirOwn: members refusing connections that the last apply did not stop get their start; none while an apply runs or is unfinished, none for timeouts (tester98 #3)", () => {
  const rows = [
    { id: "a:1", state: "PRIMARY" },
    { id: "b:2", state: "DOWN", reason: "connection refused" },
    { id: "c:3", state: "DOWN", reason: "connection refused" },
    { id: "d:4", state: "DOWN", reason: "no answer within 10s" },
  ] as unknown as ProcessStatus[];
  const down = downOnTheirOwn("rs", rows, { busy: false, stoppedIds: ["c:3"] });
  assert.deepEqual(down, { processes: ["b:2"], start: "mup cluster start rs -N b:2" });
  assert.equal(
    downNote(down!),
    "Note: b:2 is down, nothing listening on its port (mup's last apply did not stop it): " +
      "`mup cluster start rs -N b:2` starts it again; if it ended on its own, its log says why.",
  );
  assert.equal(
    downOnTheirOwn("rs", rows, { busy: false, stoppedIds: [] })?.start,
    "mup cluster start rs -N b:2 -N c:3",
  );
  assert.equal(downOnTheirOwn("rs", rows, { busy: true, stoppedIds: [] }), undefined);
  // A member its set no longer lists is not for a start (it refuses it; tester109 #3).
  assert.equal(
    downOnTheirOwn("rs", rows, { busy: false, stoppedIds: ["c:3"], removed: ["b:2"] }),
    undefined,
  );
  assert.equal(downOnTheirOwn("rs", rows.slice(0, 1), { busy: false, stoppedIds: [] }), undefined);
});

Deno.test("startedNote: a process whose start failed is not said to be started (tester109 #6); one that answers after all is", () => {
  assert.equal(
    startedNote([{ id: "a:1", answers: true }, { id: "b:2", answers: false, startFailed: true }]),
    " It started a:1 (answers), which the metadata does not list until it completes. Its start " +
      "of b:2 failed (not answering): that process does not run.",
  );
  assert.equal(
    startedNote([{ id: "b:2", answers: false, startFailed: true }]),
    " Its start of b:2 failed (not answering): that process does not run.",
  );
  assert.equal(
    startedNote([{ id: "b:2", answers: true, startFailed: true }]),
    " It started b:2 (answers), which the metadata does not list until it completes.",
  );
  assert.equal(startedNote([]), "");
});
