import assert from "node:assert/strict";
import {
  checksImplicitDefault,
  checksShardImplicitDefault,
  firstDeployImplicitDefault,
  implicitDefaultChange,
  implicitDefaultIssue,
  implicitMajority,
  refusedWithoutDefault,
  steadyRemovalOrder,
  votesChange,
} from "./implicit_write_concern.ts";
import { listProcesses, type ProcessSpec } from "./processes.ts";
import { addOrder } from "../ops/add_members.ts";
import { Topology } from "../topology/schema.ts";

const member = (port: number, extra: Partial<ProcessSpec> = {}) =>
  ({ id: `m${port}`, host: "h", port, votes: 1, arbiterOnly: false, ...extra }) as ProcessSpec;
const arbiter = (port: number) => member(port, { arbiterOnly: true });

Deno.test("implicit default write concern: majority without arbiters, {w: 1} once arbiters leave the voting data-bearing members no more than a majority", () => {
  assert.equal(implicitMajority([member(1), member(2)]), true);
  assert.equal(implicitMajority([member(1), member(2), arbiter(3)]), false); // 2 > 2: no
  assert.equal(implicitMajority([member(1), member(2), member(3), arbiter(4)]), false); // 3 > 3
  assert.equal(implicitMajority([member(1), member(2), member(3), member(4), arbiter(5)]), true);
  // A non-voting arbiter does not count.
  assert.equal(implicitMajority([member(1), member(2), { ...arbiter(3), votes: 0 }]), true);
});

Deno.test("implicitDefaultChange finds the reconfig that changes it: an arbiter added or removed; a data-bearing member added counts once it votes", () => {
  const ps = [member(1), member(2)];
  assert.deepEqual(
    (({ from, to }) => ({ from, to }))(
      implicitDefaultChange(ps, [{ member: arbiter(3), add: true }])!,
    ),
    { from: true, to: false },
  );
  assert.equal(implicitDefaultChange(ps, [{ member: member(3), add: true }]), undefined);
  const psa = [member(1), member(2), arbiter(3)];
  assert.equal(implicitDefaultChange(psa, [{ member: arbiter(3), add: false }])?.to, true);
  // P S A + S: still {w: 1} (3 data-bearing voters, majority 3); + another S: majority.
  assert.equal(implicitDefaultChange(psa, [{ member: member(4), add: true }]), undefined);
  const change = implicitDefaultChange(psa, [
    { member: member(4), add: true },
    { member: member(5), add: true },
  ]);
  assert.equal(change?.member.port, 5);
  assert.equal(change?.to, true);
});

Deno.test("the releases that check it: reconfigs from 5.0, addShard from 5.1", () => {
  assert.deepEqual(["4.4.29", "5.0.30", "6.0.19"].map(checksImplicitDefault), [false, true, true]);
  assert.deepEqual(
    ["4.4.29", "5.0.30", "5.1.0", "7.0.5", "10.0.1"].map(checksShardImplicitDefault),
    [false, false, true, true, true],
  );
});

Deno.test("implicitDefaultChange takes additions as add_members sends them: data-bearing members first, each arbiter once they vote", () => {
  const pss = [member(1), member(2), member(3)];
  // P S S + A + S, the arbiter listed first: the secondary joins and votes first, P S S S A is
  // majority at every step; the arbiter before the secondary's vote would make it {w: 1}.
  const steps = [arbiter(5), member(4)].map((member) => ({ member, add: true }));
  assert.equal(implicitDefaultChange(pss, steps), undefined);
  assert.deepEqual(addOrder([arbiter(5), member(4)]).map((m) => m.port), [4, 5]);
  // P S + S + A: P S S A is {w: 1} however it is reached; the arbiter's reconfig is the change.
  const change = implicitDefaultChange(
    [member(1), member(2)],
    [member(3), arbiter(4)].map((member) => ({ member, add: true })),
  );
  assert.equal(change?.member.port, 4);
  assert.equal(change?.to, false);
});

Deno.test("steadyRemovalOrder: from P S S S A A, a secondary and an arbiter leave secondary first, which keeps {w: 1} throughout; down members stay first", () => {
  const [p, s1, s2, s3, a1, a2] = [
    member(1),
    member(2),
    member(3),
    member(4),
    arbiter(5),
    arbiter(6),
  ];
  const set = [p, s1, s2, s3, a1, a2];
  const same = () => 0;
  assert.deepEqual(steadyRemovalOrder(set, [a1, s3], same).map((m) => m.port), [4, 5]);
  // An order that changes nothing is kept.
  assert.deepEqual(steadyRemovalOrder(set, [s3, a1], same).map((m) => m.port), [4, 5]);
  // The arbiter is down (group 0): it stays first, and no order within the groups helps.
  const downFirst = (m: ProcessSpec) => m === a1 ? 0 : 1;
  assert.deepEqual(steadyRemovalOrder(set, [a1, s3], downFirst).map((m) => m.port), [5, 4]);
});

Deno.test("votesChange: a vote taken from a secondary of P S S S A makes the default {w: 1}", () => {
  const set = [member(1), member(2), member(3), member(4), arbiter(5)];
  const change = votesChange(set, [{ ...member(4), votes: 0 }]);
  assert.equal(change?.what, "giving h:4 0 votes");
  assert.deepEqual([change?.from, change?.to], [true, false]);
  assert.equal(votesChange(set, [{ ...member(4), priority: 0 }]), undefined);
});

Deno.test("a first deploy is warned of each replica set whose implicit default is {w: 1} (5.0+), naming its arbiter; a set whose default is majority, or a release before 5.0, is not", () => {
  const set = (data: number, arbiters: number) =>
    Topology.parse({
      mongod_servers: [
        ...Array.from({ length: data }, (_, i) => ({ host: "h", port: 1 + i, replica_set: "rs0" })),
        ...Array.from({ length: arbiters }, (_, i) => ({
          host: "h",
          port: 100 + i,
          replica_set: "rs0",
          arbiter_only: true,
        })),
      ],
    });
  const told = (data: number, arbiters: number, version = "7.0.5") => {
    const t = set(data, arbiters);
    return firstDeployImplicitDefault("c", t, listProcesses(t, "/d"), version);
  };
  const psa = told(2, 1);
  assert.deepEqual(psa.errors, []);
  assert.equal(psa.warnings.length, 1);
  assert.equal(psa.warnings[0].code, "implicit_write_concern_w1");
  assert.match(
    psa.warnings[0].message,
    /^rs0: with its arbiter h:100, the set's implicit default write concern is \{w: 1\}[\s\S]*give the topology global\.default_write_concern/,
  );
  assert.deepEqual(told(3, 0).warnings, []);
  assert.deepEqual(told(4, 1).warnings, [], "P S S S A: majority");
  assert.equal(told(3, 1).warnings.length, 1, "P S S A: {w: 1}");
  assert.deepEqual(told(2, 1, "4.4.29").warnings, [], "before 5.0 every set's is {w: 1}");
});

Deno.test("refusedWithoutDefault: a replica set cluster's change either way (5.0+); a shard's only to {w: 1} (5.1+); never a config server's", () => {
  const toW1 = { member: arbiter(3), add: true, from: true, to: false };
  const toMajority = { ...toW1, add: false, from: false, to: true };
  const rs = { kind: "replica_set", version: "7.0.5" };
  const sh = { kind: "sharded", version: "7.0.5" };
  assert.equal(refusedWithoutDefault(rs, {}, toW1), true);
  assert.equal(refusedWithoutDefault(rs, {}, toMajority), true);
  assert.equal(refusedWithoutDefault({ ...rs, version: "4.4.29" }, {}, toW1), false);
  assert.equal(refusedWithoutDefault(sh, {}, toW1), true);
  assert.equal(refusedWithoutDefault(sh, {}, toMajority), false);
  assert.equal(refusedWithoutDefault({ ...sh, version: "5.0.30" }, {}, toW1), false);
  assert.equal(refusedWithoutDefault(sh, { configsvr: true }, toW1), false);
  assert.equal(refusedWithoutDefault(sh, {}, undefined), false);
});

Deno.test("implicitDefaultIssue: a data-bearing member's change comes once it votes (MongoDB refuses the reconfig that gives it its vote); an arbiter's reconfig itself is refused", () => {
  const secondary = implicitDefaultIssue(
    "c",
    "rs0",
    { member: member(5), add: true, from: false, to: true },
    false,
    "mongodb://h:1/",
  )!;
  assert.match(
    secondary.message,
    /^rs0: adding h:5 changes the set's implicit default write concern from \{w: 1\} to \{w: "majority"\} once it votes, and MongoDB 5\.0\+ refuses the reconfig that gives it its vote \(the member would stay in the set without one\) until/,
  );
  const arb = implicitDefaultIssue(
    "c",
    "rs0",
    { member: arbiter(3), add: true, from: true, to: false },
    false,
    "mongodb://h:1/",
  )!;
  assert.match(
    arb.message,
    /adding arbiter h:3 changes .* to \{w: 1\}, and MongoDB 5\.0\+ refuses that reconfig \(NewReplicaSetConfigurationIncompatible\)/,
  );
  assert.equal(
    implicitDefaultIssue(
      "c",
      "rs0",
      { member: arbiter(3), add: true, from: true, to: false },
      undefined,
      "u",
    ),
    undefined,
    "a default that could not be read: the server's own refusal",
  );
});
