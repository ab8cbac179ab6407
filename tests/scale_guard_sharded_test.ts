/**
 * A saved scale-in or scale-out of a sharded cluster applied after a process it needs went down
 * is refused before anything of it runs (lib/preflight/needed_reachable.ts): the mongos a shard
 * is removed through, a member the scale-in's health check judges, and the set a scale-out adds
 * a member to when none of its members answers. Each refusal names the start and the command
 * that plans again; nothing of the plan was applied.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import {
  deployArgs,
  killAll,
  mup,
  output,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { clusterDir, currentState } from "./apply_helpers.ts";
import { display, killMember, memberPid, ok, stablePorts } from "./lifecycle_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

/** cfg (1 member), shard1 and shard2 (1 member each), two mongos; `more` adds shard1 members. */
const topology = (p: number[], more: number[] = []) =>
  `config_servers:
  - { host: localhost, port: ${p[0]}, replica_set: cfg }
mongod_servers:
  - { host: localhost, port: ${p[1]}, replica_set: shard1 }
${
    more.map((m) => `  - { host: localhost, port: ${m}, replica_set: shard1 }\n`).join("")
  }  - { host: localhost, port: ${p[2]}, replica_set: shard2 }
mongos_servers:
  - { host: localhost, port: ${p[3]} }
  - { host: localhost, port: ${p[4]} }
`;

/** Applies saved plan `planId`: refused before it ran, naming `down` and the start of it. */
async function refusedNaming(home: string, planId: string, down: string, again: RegExp) {
  const before = (await currentState(home, "gs")).state_id;
  const r = await mup(["plan", "apply", planId, "--auto-approve"], { home });
  assert.equal(r.code, 1, output(r));
  assert.ok(r.stderr.includes(`${down} does not answer, and this `), output(r));
  assert.ok(r.stderr.includes(`\`mup cluster start gs -N ${down}\``), output(r));
  assert.match(r.stderr, again, output(r));
  assert.equal((await currentState(home, "gs")).state_id, before, "nothing was applied");
}

const planOnly = async (home: string, args: string[]) =>
  JSON.parse((await ok(home, [...args, "--plan-only", "--json"])).stdout).plan_id as string;

Deno.test("a saved scale-in or scale-out of a sharded cluster is refused before it runs when the mongos it removes a shard through, a member its health check judges, or the set it adds to is down; a stopped (SIGSTOP) member is named with kill -CONT, and the same plan applies once it goes on", async () => {
  const home = await tempHome();
  const p = stablePorts(6);
  const at = (port: number) => `localhost:${port}`;
  try {
    const file = await writeTopology(home, "gs.yaml", topology(p));
    await ok(home, deployArgs("gs", file, await testMirror(), ["--auto-approve"]));
    const scaleIn = ["cluster", "scale-in", "gs", "-N", at(p[2])];
    const replanIn = new RegExp(`\`mup cluster scale-in gs -N ${at(p[2])}\``);

    // The mongos that shard2 is drained and removed through goes down after the plan.
    let planId = await planOnly(home, scaleIn);
    const plan = JSON.parse(
      await Deno.readTextFile(path.join(clusterDir(home, "gs"), "plans", `${planId}.json`)),
    );
    const removal = plan.phases.flatMap((ph: { operations: unknown[] }) => ph.operations)
      .find((o: { type: string }) => o.type === "remove_shard");
    const router = removal.target.port as number;
    assert.ok([p[3], p[4]].includes(router), JSON.stringify(removal));
    await killMember(home, "gs", router, "mongos");
    await refusedNaming(home, planId, at(router), replanIn);
    await ok(home, ["cluster", "start", "gs", "-N", at(router), "--auto-approve"]);

    // shard1's member, which stays and which the health check judges, goes down.
    planId = await planOnly(home, scaleIn);
    await killMember(home, "gs", p[1]);
    await refusedNaming(home, planId, at(p[1]), replanIn);
    await ok(home, ["cluster", "start", "gs", "-N", at(p[1]), "--auto-approve"]);

    // A member for shard1, whose only member then goes down: no primary to add it through.
    const grown = await writeTopology(home, "gs2.yaml", topology(p, [p[5]]));
    planId = await planOnly(home, ["cluster", "scale-out", "gs", grown]);
    await killMember(home, "gs", p[1]);
    await refusedNaming(home, planId, at(p[1]), /`mup cluster scale-out gs /);
    assert.ok(
      !(await Deno.stat(path.join(clusterDir(home, "gs"), "deploy", `mongod-${p[5]}`)).then(
        () => true,
        () => false,
      )),
      "the new member was not installed",
    );
    await ok(home, ["cluster", "start", "gs", "-N", at(p[1]), "--auto-approve"]);
    assert.ok((await display(home, "gs")).healthy);

    // shard1's member still runs but is stopped (SIGSTOP): no start is named, which would
    // find it running; once it goes on, the same plan applies (tester26).
    planId = await planOnly(home, scaleIn);
    const pid = await memberPid(home, "gs", p[1]);
    Deno.kill(pid, "SIGSTOP");
    try {
      const r = await mup(["plan", "apply", planId, "--auto-approve"], { home });
      assert.equal(r.code, 1, output(r));
      assert.ok(
        r.stderr.includes(
          `${at(p[1])} runs (PID ${pid}) but does not answer: it is stopped (process state T`,
        ),
        output(r),
      );
      assert.ok(r.stderr.includes(`\`kill -CONT ${pid}\` resumes it`), output(r));
      assert.ok(r.stderr.includes(`apply this plan again (\`mup plan apply ${planId}\`)`));
      assert.doesNotMatch(r.stderr, /cluster start/);
    } finally {
      Deno.kill(pid, "SIGCONT");
    }
    const applied = await mup(["plan", "apply", planId, "--auto-approve"], { home });
    assert.equal(applied.code, 0, output(applied));
    const after = await display(home, "gs");
    assert.ok(after.healthy, JSON.stringify(after));
    assert.ok(!after.processes.some((x) => x.id === at(p[2])), JSON.stringify(after));
  } finally {
    await killAll(home);
  }
});
