/**
 * A scale-in cut off after it stepped its primary down but before its replSetReconfig took the
 * member out is cancelled by `state rollback` (tester103 #2): the rollback checks, as it runs,
 * that the set still lists the member, and records the apply rolled back, so other commands run
 * again. Had the reconfig gone through, the same check fails the rollback, naming the member.
 */
import assert from "node:assert/strict";
import type { Document } from "mongodb";
import { deployArgs, freePorts, tempHome, testMirror, writeTopology } from "./helpers.ts";
import { currentState, withClient } from "./apply_helpers.ts";
import { display, killWhen, ok } from "./lifecycle_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

/**
 * Three members, the first the primary (priority 2), with the test commands on: the fail point
 * holds the scale-in's replSetReconfig until the test has killed mup.
 */
const threeMembers = (p: number[]) =>
  `mongod_servers:\n${
    p.map((port, i) =>
      `  - { host: localhost, port: ${port}, replica_set: rs0${i === 0 ? ", priority: 2" : ""}, ` +
      "runtime_config: { setParameter: { enableTestCommands: true } } }"
    ).join("\n")
  }\n`;

/**
 * Sends, by hand, the reconfig a scale-in sends: `config` (as replSetGetConfig gave it) at the
 * next version without `host`, to the set's primary. Resolves with the server's error code, 0
 * when it took the config.
 */
function reconfigWithout(
  ports: number[],
  as: { home: string; cluster: string },
  config: Document,
  host: string,
): Promise<number> {
  const { term: _t, ...rest } = config;
  return withClient(
    `mongodb://${ports.map((p) => `localhost:${p}`).join(",")}/?replicaSet=rs0`,
    (c) =>
      c.db("admin").command({
        replSetReconfig: {
          ...rest,
          version: Number(config.version) + 1,
          members: (config.members as Document[]).filter((m) => m.host !== host),
        },
      }).then(() => 0, (e) => (e as { code?: number }).code ?? -1),
    as,
  );
}

/** Deploys, then kills a scale-in of the primary once it stepped down, its reconfig held. */
async function cutOffScaleIn(name: string) {
  const home = await tempHome();
  const ports = freePorts(3);
  const file = await writeTopology(home, `${name}.yaml`, threeMembers(ports));
  await ok(home, deployArgs(name, file, await testMirror(), ["--auto-approve"]));
  const as = { home, cluster: name };
  const direct = (port: number, f: (c: import("mongodb").MongoClient) => Promise<unknown>) =>
    withClient(`mongodb://localhost:${port}/?directConnection=true`, f, as);
  // Every member holds a replSetReconfig for a minute, then refuses it.
  for (const port of ports) {
    await direct(port, (c) =>
      c.db("admin").command({
        configureFailPoint: "failCommand",
        mode: "alwaysOn",
        data: {
          failCommands: ["replSetReconfig"],
          blockConnection: true,
          blockTimeMS: 60_000,
          errorCode: 2,
        },
      }));
  }
  const stateOf = (port: number): Promise<Document | undefined> =>
    direct(port, (c) => c.db("admin").command({ hello: 1 })).then(
      (d) => d as Document,
      () => undefined,
    );
  const old = `localhost:${ports[0]}`;
  await killWhen(
    home,
    name,
    ["cluster", "scale-in", name, "-N", old, "--auto-approve"],
    /^remove-members-rs0$/,
    "executing",
    {},
    // Stepped down, and another member elected: the reconfig comes next, and is held.
    async () => {
      const [h0, h1, h2] = await Promise.all(ports.map(stateOf));
      return h0?.secondary === true && (h1?.isWritablePrimary || h2?.isWritablePrimary) === true;
    },
  );
  const st = await currentState(home, name);
  assert.equal(st.operation_states["remove-members-rs0"]?.status, "running", JSON.stringify(st));
  const config = () =>
    withClient(
      `mongodb://${ports.map((p) => `localhost:${p}`).join(",")}/?replicaSet=rs0`,
      async (c) => (await c.db("admin").command({ replSetGetConfig: 1 })).config as Document,
      as,
    );
  const failPointOff = () =>
    Promise.all(ports.map((port) =>
      direct(
        port,
        (c) => c.db("admin").command({ configureFailPoint: "failCommand", mode: "off" }),
      )
    ));
  return { home, ports, old, config, failPointOff };
}

Deno.test("state rollback cancels a scale-in killed after its step-down, before its replSetReconfig: it checks that the set still lists the member, records the apply rolled back, and other commands run again (tester103 #2)", async () => {
  const { home, ports, old, config, failPointOff } = await cutOffScaleIn("cancel");
  const before = await config();
  // Another command is refused over it, naming the rollback that cancels it (tester109 #5).
  const restart = await ok(home, ["cluster", "restart", "cancel", "--auto-approve"], 1);
  assert.ok(
    restart.stderr.includes(
      "`mup state rollback cancel --checkpoint start` cancels it (no member is out of its set yet",
    ),
    restart.stderr,
  );
  // Killed, not failed: no failure to fix first (tester110 #5).
  assert.ok(
    restart.stderr.includes("its mup was cut off: no failure to fix first"),
    restart.stderr,
  );
  // The fail point off (it would hold the rollback's own reconfig too); the scale-in's held
  // reconfig stays held, then fails.
  await failPointOff();
  const back = await ok(home, [
    "state",
    "rollback",
    "cancel",
    "--checkpoint",
    "start",
    "--auto-approve",
  ]);
  assert.match(back.stdout, new RegExp(`${old} stay in rs0 and in the metadata`), back.stdout);
  // The review shows the cluster the rollback keeps: three members (tester107 #5).
  assert.match(back.stdout, /Topology: Replica set rs0 \(3 members\)/, back.stdout);
  assert.equal((await currentState(home, "cancel")).status, "rolled_back");
  const after = await config();
  const members = (after.members as Document[]).map((m) => m.host).sort();
  assert.deepEqual(members, ports.map((p) => `localhost:${p}`).sort(), "every member stays");
  // The check fenced the set: the same members at a later version, so that the reconfig the
  // killed scale-in sent (built on the version before, without the member) cannot land
  // (tester107 #2).
  assert.ok(Number(after.version) > Number(before.version), `${before.version} → ${after.version}`);
  const late = await reconfigWithout(ports, { home, cluster: "cancel" }, before, old);
  assert.equal(late, 103, "a reconfig built on the version before the fence is refused");
  // The cluster is whole, and its commands run.
  const shown = await display(home, "cancel");
  assert.ok(shown.healthy, JSON.stringify(shown));
  assert.equal(shown.processes.length, 3);
  const again = await ok(home, ["cluster", "start", "cancel", "--auto-approve"]);
  assert.match(again.stdout, /No changes/);
});

Deno.test("state rollback of a scale-in killed in its remove_members, planned while the set listed the member and applied once the reconfig went through, fails at its check naming the member and the scale-in that finishes it: nothing is recorded as cancelled", async () => {
  const { home, ports, old, config, failPointOff } = await cutOffScaleIn("gone");
  const scaleIn = (await currentState(home, "gone")).state_id;
  // The reconfig the kill cut off took the member out after all (done here by hand, once the
  // fail point no longer holds replSetReconfig).
  await failPointOff();
  // The rollback planned while the set still lists it; the reconfig lands before it applies.
  const planned = await ok(home, [
    "state",
    "rollback",
    "gone",
    "--checkpoint",
    "start",
    "--plan-only",
    "--json",
  ]);
  const planId = JSON.parse(planned.stdout).plan.plan_id as string;
  assert.equal(await reconfigWithout(ports, { home, cluster: "gone" }, await config(), old), 0);
  assert.deepEqual(
    ((await config()).members as Document[]).map((m) => m.host).sort(),
    ports.slice(1).map((p) => `localhost:${p}`).sort(),
  );
  const back = await ok(home, ["plan", "apply", planId, "--auto-approve"], 1);
  assert.match(back.stdout + back.stderr, new RegExp(`rs0 no longer lists ${old}`));
  // It names what finishes the removal, not a resume that would fail again (tester107 #3).
  assert.ok(
    (back.stdout + back.stderr).includes(`\`mup cluster scale-in gone -N ${old}\``),
    back.stdout + back.stderr,
  );
  assert.match(back.stdout, /A resume alone cannot finish it while that stands/);
  assert.doesNotMatch(back.stdout, /To resume: mup plan resume/);
  const shown = await ok(home, ["state", "show", "gone", "--state-id", scaleIn, "--json"]);
  assert.notEqual(JSON.parse(shown.stdout).status, "rolled_back");
});

Deno.test("a scale-in of two members whose first removal landed after mup was killed, and whose resume then failed on the second, is no longer taken for one that changed nothing: its rollback is refused when planned, naming the member taken out, and its resume completes it (tester107 #1)", async () => {
  const home = await tempHome();
  const ports = freePorts(3);
  const file = await writeTopology(home, "two.yaml", threeMembers(ports));
  await ok(home, deployArgs("two", file, await testMirror(), ["--auto-approve"]));
  const as = { home, cluster: "two" };
  const seeds = `mongodb://${ports.map((p) => `localhost:${p}`).join(",")}/?replicaSet=rs0`;
  const failPoint = (data: Document | undefined) =>
    Promise.all(ports.map((port) =>
      withClient(
        `mongodb://localhost:${port}/?directConnection=true`,
        (c) =>
          c.db("admin").command({
            configureFailPoint: "failCommand",
            mode: data ? "alwaysOn" : "off",
            ...(data ? { data } : {}),
          }),
        as,
      )
    ));
  await failPoint({
    failCommands: ["replSetReconfig"],
    blockConnection: true,
    blockTimeMS: 60_000,
    errorCode: 2,
  });
  const [first, second] = [`localhost:${ports[1]}`, `localhost:${ports[2]}`];
  await killWhen(
    home,
    "two",
    ["cluster", "scale-in", "two", "-N", first, "-N", second, "--auto-approve"],
    /^remove-members-rs0$/,
    "executing",
  );
  // The first removal lands after all (done here by hand).
  await failPoint(undefined);
  const cfg = await withClient(
    seeds,
    async (c) => (await c.db("admin").command({ replSetGetConfig: 1 })).config as Document,
    as,
  );
  assert.equal(await reconfigWithout(ports, as, cfg, first), 0);
  // The resume's own removal of the second is refused.
  await failPoint({ failCommands: ["replSetReconfig"], errorCode: 2 });
  const resumed = await ok(home, ["plan", "resume", "two", "--auto-approve"], 1);
  // The server's refusal keeps its code, as the server sent it (tester107 #9).
  assert.match(
    resumed.stdout + resumed.stderr,
    /replSetReconfig .* failed: .*\(code 2, BadValue\)/,
    resumed.stdout + resumed.stderr,
  );
  const st = await currentState(home, "two");
  const removal = st.operation_states["remove-members-rs0"];
  assert.equal(removal?.status, "failed", JSON.stringify(removal));
  assert.notEqual(removal?.result?.metadata?.no_effect, true, JSON.stringify(removal));
  await failPoint(undefined);
  // Refused when planned: the scale-in stays the unfinished apply, and its resume completes it.
  const back = await ok(
    home,
    ["state", "rollback", "two", "--checkpoint", "start", "--auto-approve"],
    1,
  );
  const said = back.stdout + back.stderr;
  assert.match(said, new RegExp(`rs0 no longer lists ${first}`), said);
  assert.ok(said.includes("`mup plan resume two` completes the scale-in"), said);
  await ok(home, ["plan", "resume", "two", "--auto-approve"]);
  const left = await withClient(
    seeds,
    async (c) => (await c.db("admin").command({ replSetGetConfig: 1 })).config as Document,
    as,
  );
  assert.deepEqual((left.members as Document[]).map((m) => m.host), [`localhost:${ports[0]}`]);
});
