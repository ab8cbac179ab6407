/**
 * A wait on a member that runs but is stopped (SIGSTOP) names its PID and `kill -CONT`, says
 * waiting longer would not help, and a resume goes on once it is let go on; a wait stretched
 * past its timeout says how long it took.
 */
import assert from "node:assert/strict";
import {
  deployArgs,
  killAll,
  mup,
  output,
  pausedBefore,
  replicaSetTopology,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { display, memberPid, ok, stablePorts } from "./lifecycle_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

Deno.test("rolling restart: the member just restarted is stopped (SIGSTOP) during its wait: the failure names its PID and kill -CONT, not a longer timeout; after kill -CONT a resume completes", async () => {
  const home = await tempHome();
  const ports = stablePorts(3);
  // Secondaries restart first, by port; the first is stopped just before its wait.
  const first = Math.min(ports[1], ports[2]);
  const held = pausedBefore(home, `wait-state-mongod-localhost-${first}`);
  let pid = 0;
  try {
    // Its first member of priority 2 is the primary.
    const file = await writeTopology(home, "w.yaml", replicaSetTopology(ports, held.hooks));
    await ok(home, deployArgs("w", file, await testMirror(), ["--auto-approve"]));
    const running = mup(
      ["cluster", "restart", "w", "--wait-timeout", "5s", "--auto-approve"],
      { home },
    );
    await held.at(async () => {
      pid = await memberPid(home, "w", first);
      Deno.kill(pid, "SIGSTOP");
    }, running);
    const r = await running;
    assert.equal(r.code, 1, output(r));
    const text = output(r);
    assert.match(
      text,
      new RegExp(
        `localhost:${first} did not become SECONDARY and caught up (within 5s|after \\d+(\\.\\d)?s ` +
          `\\(its timeout is 5s\\)) \\(last seen: [^)]*\\); localhost:${first} runs \\(PID ${pid}\\) ` +
          `but does not answer: it is stopped \\(process state T[^;]*; \`kill -CONT ${pid}\` ` +
          "resumes it\\); once it answers, `mup plan resume w` waits for it again",
      ),
    );
    Deno.kill(pid, "SIGCONT");
    pid = 0;
    const resumed = await mup(["plan", "resume", "w"], { home });
    assert.equal(resumed.code, 0, output(resumed));
    assert.ok((await display(home, "w")).healthy);
  } finally {
    if (pid) Deno.kill(pid, "SIGCONT");
    await killAll(home);
  }
});
