/**
 * A user created outside mup on a new replica set before mup's own admin user (another client
 * using the localhost exception while the deploy runs) closes the exception: the deploy stops
 * at its create_user with why, and a resume sees the set initiated (through hello, which needs
 * no credentials) instead of sending replSetInitiate again and failing with "Authentication
 * failed" (tester63 M3).
 */
import assert from "node:assert/strict";
import {
  deployArgs,
  freePorts,
  killAll,
  mup,
  output,
  pausedBefore,
  replicaSetTopology,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { admin, primaryAmong } from "./sim_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

Deno.test("a user created outside mup before its admin: the deploy stops at create-user naming the closed localhost exception; a resume finds the set initiated and stops there again, never initiating it twice (tester63 M3)", async () => {
  const home = await tempHome();
  const ports = freePorts(3);
  // Held before its create_user: the apply, then the resume.
  const held = pausedBefore(home, "create-user-rs0", 2);
  const file = await writeTopology(home, "fu.yaml", replicaSetTopology(ports, held.hooks));
  try {
    const running = mup(deployArgs("fu", file, await testMirror(), ["--auto-approve"]), { home });
    await held.at(async () => {
      // Through the localhost exception, on the primary: a root user mup did not make.
      const primary = await primaryAmong(ports);
      await admin(primary, { createUser: "other", pwd: "other-password", roles: ["root"] });
    }, running);
    const r = await running;
    assert.equal(r.code, 1, output(r));
    assert.match(r.stdout, /✓ Initialize/, output(r));
    assert.match(
      r.stdout,
      /cannot create \S+ on localhost:\d+: the localhost exception is closed/,
      output(r),
    );
    const resuming = mup(["plan", "resume", "fu"], { home });
    await held.at(() => {}, resuming);
    const again = await resuming;
    assert.equal(again.code, 1, output(again));
    assert.doesNotMatch(output(again), /replSetInitiate for rs0 failed|Authentication failed/);
    assert.doesNotMatch(output(again), /✗ Initialize/, output(again));
    assert.match(
      again.stdout,
      /cannot create \S+ on localhost:\d+: the localhost exception is closed/,
      output(again),
    );
  } finally {
    await killAll(home);
  }
});
