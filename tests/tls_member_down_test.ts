/**
 * `mup cluster tls` with a member down (tester43 H1): a saved plan applied after a member went
 * down is refused before it changes anything, and a member that goes down half way through the
 * switch is named with the command that starts it by hand (mup's own start is refused until the
 * switch finishes), after which `plan resume` finishes the switch.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import {
  killAll,
  mup,
  output,
  replicaSetTopology,
  standaloneTopology,
  tempHome,
} from "./helpers.ts";
import { clusterDir, currentState } from "./apply_helpers.ts";
import { deploy, display, killMember, ok, stablePorts } from "./lifecycle_helpers.ts";
import { installFixture } from "./fixture.ts";
import { parse } from "yaml";

installFixture();

Deno.test("cluster tls enable with a member down: a saved plan is refused before it changes anything; a member lost half way is started by hand as the failure says, then plan resume finishes the switch (tester43 H1)", async () => {
  const home = await tempHome();
  const ports = stablePorts(3);
  const [primary, , third] = ports;
  const pidFile = path.join(clusterDir(home, "rs"), "deploy", `mongod-${primary}`, "mongod.pid");
  // Once every configuration file of the first round is written, the primary dies.
  const hook = "hooks:\n  after_phase:\n    phase: configure-allowTLS\n" +
    `    command: kill -9 $(cat '${pidFile}')\n`;
  const meta = async () =>
    parse(await Deno.readTextFile(path.join(clusterDir(home, "rs"), "meta.yaml"))) as {
      tls_switch?: unknown;
    };
  try {
    await deploy(home, "rs", replicaSetTopology(ports, hook));

    // A plan saved while every member ran, applied after one went down.
    const saved = await ok(home, ["cluster", "tls", "rs", "enable", "--plan-only", "--json"]);
    const planId = JSON.parse(saved.stdout).plan_id as string;
    await killMember(home, "rs", third);
    const refused = await mup(["plan", "apply", planId, "--auto-approve"], { home });
    assert.equal(refused.code, 1, output(refused));
    assert.match(output(refused), new RegExp(`localhost:${third}`));
    // Nothing began, so mup's own start is what it names (tester44), not a start by hand.
    assert.match(
      refused.stdout.replace(/\s+/g, " "),
      new RegExp(`\`mup cluster start rs -N localhost:${third}\` starts it`),
    );
    assert.doesNotMatch(refused.stdout, /by hand/);
    const st = await currentState(home, "rs");
    assert.deepEqual(
      Object.values(st.operation_states).filter((o) => o.status === "completed").map((o) => o.id),
      [],
      "nothing of the switch ran",
    );
    assert.equal((await meta()).tls_switch, undefined, "no switch is recorded as under way");
    // So the start works, as for any apply that changed nothing.
    await ok(home, ["cluster", "start", "rs", "-N", `localhost:${third}`, "--auto-approve"]);

    // Half way: the failure names the start by hand, not `cluster start`, which is refused.
    const failed = await mup(["cluster", "tls", "rs", "enable", "--auto-approve"], { home });
    assert.equal(failed.code, 1, output(failed));
    const said = failed.stdout.replace(/\s+/g, " ");
    const m = said.match(
      new RegExp(
        `\`mup cluster start\` is refused until the TLS switch finishes: start localhost:${primary} ` +
          "by hand with the configuration file mup wrote \\(`([^`]+)`\\), then `mup plan resume rs`",
      ),
    );
    assert.ok(m, said);
    // Display says the same (its resume alone cannot finish the switch).
    const shown = (await mup(["cluster", "display", "rs"], { home })).stdout.replace(/\s+/g, " ");
    assert.match(
      shown,
      /Note: TLS enable did not finish .* A resume alone cannot finish it \(its failure stands\): `mup cluster start` is refused until the TLS switch finishes: start localhost:\d+ by hand/,
    );
    // The connection string credentials gives is said to be the old mode's meanwhile.
    const creds = JSON.parse(
      (await ok(home, ["cluster", "credentials", "rs", "--json"])).stdout,
    );
    assert.match(
      creds.warnings.join("\n"),
      /TLS enable is under way or unfinished .*this connection string is for TLS off/,
    );
    const refusedStart = await mup(
      ["cluster", "start", "rs", "-N", `localhost:${primary}`, "--auto-approve"],
      { home },
    );
    assert.equal(refusedStart.code, 1, output(refusedStart));
    assert.match(refusedStart.stderr, /TLS enable .* part way/);
    const byHand = await new Deno.Command("sh", { args: ["-c", m[1]] }).output();
    assert.equal(byHand.code, 0, new TextDecoder().decode(byHand.stderr));
    const resumed = await ok(home, ["plan", "resume", "rs"]);
    assert.match(resumed.stdout, /TLS enable completed successfully!/);
    assert.equal((await meta()).tls_switch, undefined);
    assert.ok((await display(home, "rs")).healthy);
  } finally {
    await killAll(home);
  }
});

Deno.test("cluster tls enable stopped by a hook that always fails: the advice names plan resume --no-hooks, which finishes the switch without the plan's hooks (tester44)", async () => {
  const home = await tempHome();
  const [port] = stablePorts(1);
  try {
    await deploy(
      home,
      "sa",
      standaloneTopology(
        [port],
        'hooks:\n  after_phase: { phase: set-preferTLS, command: "exit 3" }\n',
      ),
    );
    const failed = await mup(["cluster", "tls", "sa", "enable", "--auto-approve"], { home });
    assert.equal(failed.code, 1, output(failed));
    const said = failed.stdout.replace(/\s+/g, " ");
    assert.match(said, /hook after_phase of phase set-preferTLS exited with 3/);
    assert.match(said, /Or resume without the plan's hooks: `mup plan resume sa --no-hooks`/);
    // Re-planning is refused while the switch is under way, so it is not what is offered.
    assert.doesNotMatch(said, /`mup cluster tls sa enable --no-hooks`/);
    const resumed = await ok(home, ["plan", "resume", "sa", "--no-hooks"]);
    assert.match(resumed.stdout, /Resuming without the plan's hooks \(--no-hooks\): after_phase/);
    assert.match(resumed.stdout, /TLS enable completed successfully!/);
    const st = await currentState(home, "sa");
    assert.ok(st.execution_log.some((e) => /hooks skipped \(--no-hooks\)/.test(e.message)));
    await ok(home, ["cluster", "display", "sa"]);
  } finally {
    await killAll(home);
  }
});
