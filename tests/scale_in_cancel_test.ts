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
  return { home, ports, old, config, direct };
}

Deno.test("state rollback cancels a scale-in killed after its step-down, before its replSetReconfig: it checks that the set still lists the member, records the apply rolled back, and other commands run again (tester103 #2)", async () => {
  const { home, ports, old, config, direct } = await cutOffScaleIn("cancel");
  const back = await ok(home, [
    "state",
    "rollback",
    "cancel",
    "--checkpoint",
    "start",
    "--auto-approve",
  ]);
  assert.match(
    back.stdout,
    new RegExp(`the rollback checks that rs0 still lists ${old} before it marks the apply`),
    back.stdout,
  );
  assert.equal((await currentState(home, "cancel")).status, "rolled_back");
  const members = ((await config()).members as Document[]).map((m) => m.host).sort();
  assert.deepEqual(members, ports.map((p) => `localhost:${p}`).sort(), "every member stays");
  // The fail point goes; the cluster is whole, and a command that refused before now runs.
  for (const port of ports) {
    await direct(
      port,
      (c) => c.db("admin").command({ configureFailPoint: "failCommand", mode: "off" }),
    );
  }
  const shown = await display(home, "cancel");
  assert.ok(shown.healthy, JSON.stringify(shown));
  assert.equal(shown.processes.length, 3);
  const again = await ok(home, ["cluster", "start", "cancel", "--auto-approve"]);
  assert.match(again.stdout, /No changes/);
});

Deno.test("state rollback of a scale-in killed in its remove_members fails, naming the member, when the set no longer lists it (the reconfig went through): nothing is recorded as cancelled", async () => {
  const { home, ports, old, config, direct } = await cutOffScaleIn("gone");
  const scaleIn = (await currentState(home, "gone")).state_id;
  // The reconfig the kill cut off took the member out after all (done here by hand, once the
  // fail point no longer holds replSetReconfig).
  for (const port of ports) {
    await direct(
      port,
      (c) => c.db("admin").command({ configureFailPoint: "failCommand", mode: "off" }),
    );
  }
  const cfg = await config();
  const { term: _t, ...rest } = cfg;
  await withClient(
    `mongodb://${ports.map((p) => `localhost:${p}`).join(",")}/?replicaSet=rs0`,
    (c) =>
      c.db("admin").command({
        replSetReconfig: {
          ...rest,
          version: Number(cfg.version) + 1,
          members: (cfg.members as Document[]).filter((m) => m.host !== old),
        },
      }),
    { home, cluster: "gone" },
  );
  assert.deepEqual(
    ((await config()).members as Document[]).map((m) => m.host).sort(),
    ports.slice(1).map((p) => `localhost:${p}`).sort(),
  );
  const back = await ok(
    home,
    ["state", "rollback", "gone", "--checkpoint", "start", "--auto-approve"],
    1,
  );
  assert.match(back.stdout + back.stderr, new RegExp(`rs0 no longer lists ${old}`));
  const shown = await ok(home, ["state", "show", "gone", "--state-id", scaleIn, "--json"]);
  assert.notEqual(JSON.parse(shown.stdout).status, "rolled_back");
});
