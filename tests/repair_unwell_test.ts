/**
 * A cluster whose processes all answer is not therefore as recorded. After a DBA drops the admin
 * user, a re-deploy is a repair (not "No changes"); it creates the user again once a restart has
 * reopened the localhost exception (MongoDB keeps it closed while the server has had a user).
 * After a member is removed from the set's configuration by hand, the re-deploy says so and adds
 * it back; removed again, a start's health check fails naming the member (verify_health: every
 * recorded member is in its set).
 */
import assert from "node:assert/strict";
import {
  clusterCredentials,
  deployArgs,
  killAll,
  mup,
  output,
  replicaSetTopology,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { asAdmin } from "./security_helpers.ts";
import { display, ok, stablePorts } from "./lifecycle_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

Deno.test("re-deploy after the admin user was dropped re-creates it (after a restart); after a member was removed from the set by hand the repair adds it back, and a start's health check fails naming a member removed again", async () => {
  const home = await tempHome();
  const ports = stablePorts(3);
  try {
    const file = await writeTopology(home, "rs.yaml", replicaSetTopology(ports));
    const deploy = async (extra: string[]) =>
      mup(deployArgs("rs", file, await testMirror(), extra), { home });
    assert.equal((await deploy(["--auto-approve"])).code, 0);
    const cred = await clusterCredentials(home, "rs");
    const admin = <T>(f: (c: import("mongodb").MongoClient) => Promise<T>) =>
      asAdmin(cred, `localhost:${ports[0]}`, f);
    // Unchanged: no changes.
    assert.equal((await deploy(["--plan-only", "--detailed-exitcode"])).code, 0);

    await admin((c) => c.db("admin").command({ dropUser: cred.user }));
    const planned = await deploy(["--plan-only", "--detailed-exitcode"]);
    assert.equal(planned.code, 2, output(planned));
    assert.match(planned.stdout, /admin credentials mup stores do not authenticate/);
    // MongoDB keeps the localhost exception closed once a user existed, until a restart: the
    // repair says so and how to go on, not success.
    const closed = await deploy(["--auto-approve"]);
    assert.equal(closed.code, 1, output(closed));
    assert.match(closed.stdout + closed.stderr, /the localhost exception is closed/);
    assert.match(closed.stdout + closed.stderr, /`mup cluster stop rs`, `mup cluster start rs`/);
    await ok(home, ["cluster", "stop", "rs", "--auto-approve"]);
    await ok(home, ["cluster", "start", "rs", "--auto-approve"]);
    const repaired = await deploy(["--auto-approve"]);
    assert.equal(repaired.code, 0, output(repaired));
    assert.match(repaired.stdout, /✓ Create admin on rs0 \[/);
    const status = await admin((c) => c.db("admin").command({ connectionStatus: 1 }));
    assert.deepEqual(status.authInfo.authenticatedUsers, [{ user: "admin", db: "admin" }]);

    // A member removed from the set's configuration by hand: the repair adds it back.
    const removeByHand = () =>
      admin(async (c) => {
        const { config } = await c.db("admin").command({ replSetGetConfig: 1 });
        config.members = config.members.filter((m: { host: string }) =>
          !m.host.endsWith(`:${ports[2]}`)
        );
        config.version += 1;
        await c.db("admin").command({ replSetReconfig: config });
      });
    await removeByHand();
    const again = await deploy(["--plan-only", "--detailed-exitcode"]);
    assert.equal(again.code, 2, output(again));
    assert.match(
      again.stdout,
      new RegExp(`localhost:${ports[2]} is not in rs0's configuration \\(removed outside mup\\)`),
    );
    assert.doesNotMatch(again.stdout, /answers but is/);
    const applied = await deploy(["--auto-approve"]);
    assert.equal(applied.code, 0, output(applied));
    assert.ok((await display(home, "rs")).healthy);
    // A start of the whole cluster verifies its health: every recorded member must be in its
    // set (the check waits out its 30 s before it fails).
    await removeByHand();
    await ok(home, ["cluster", "stop", "rs", "--auto-approve"]);
    const started = await mup(["cluster", "start", "rs", "--auto-approve"], { home });
    assert.equal(started.code, 1, output(started));
    assert.match(
      started.stdout + started.stderr,
      new RegExp(`localhost:${ports[2]} is not a member of replica set rs0`),
    );
    assert.doesNotMatch(started.stdout, /Start completed successfully/);
  } finally {
    await killAll(home);
  }
});
