/**
 * Commands the README and mup's hints give work when pasted: `deno task mup -- …` (deno passes
 * the `--` through), and hints that name the cluster, plan or checkpoint instead of a placeholder.
 */
import assert from "node:assert/strict";
import {
  deployArgs,
  freePorts,
  killAll,
  mup,
  ROOT,
  standaloneTopology,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

/** The backticked commands of a hint, `mup` dropped: what a user would paste. */
function commandsIn(text: string): string[][] {
  return [...text.matchAll(/`mup ([^`]+)`/g)].map((m) => m[1].split(" "));
}

Deno.test("README's `deno task mup -- …`: the `--` deno passes through is not mup's, so options after the arguments are options", async () => {
  const home = await tempHome();
  const run = (args: string[]) =>
    new Deno.Command(Deno.execPath(), {
      args: ["task", "--quiet", "mup", "--", ...args],
      cwd: ROOT,
      env: { MUP_HOME: home, NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  const dec = new TextDecoder();
  const display = await run(["cluster", "display", "r3", "--timeout", "2s"]);
  const said = dec.decode(display.stdout) + dec.decode(display.stderr);
  assert.equal(display.code, 1, said);
  assert.match(said, /no deployed cluster named "r3"/);
  assert.doesNotMatch(said, /too many arguments/);
  const list = await run(["cluster", "list", "--json"]);
  assert.equal(list.code, 0, dec.decode(list.stdout) + dec.decode(list.stderr));
  assert.deepEqual(JSON.parse(dec.decode(list.stdout)), []);
});

Deno.test("hints name the cluster: a -N that matches nothing, and a plan delete refused while its apply can be resumed or rolled back (its rollback command works pasted)", async () => {
  const home = await tempHome();
  const [good, bad] = freePorts(2);
  const mirror = await testMirror();
  try {
    const one = await writeTopology(home, "one.yaml", standaloneTopology([good]));
    const deployed = await mup(deployArgs("one", one, mirror, ["--auto-approve"]), { home });
    assert.equal(deployed.code, 0, deployed.stdout + deployed.stderr);
    const node = await mup(["cluster", "display", "one", "-N", "localhost:1"], { home });
    assert.equal(node.code, 1, node.stdout + node.stderr);
    assert.match(node.stderr, /-N localhost:1 matches no process/);
    assert.ok(node.stderr.includes("(`mup cluster display one`)"), node.stderr);
    for (const args of commandsIn(node.stderr)) {
      const pasted = await mup(args, { home });
      assert.equal(pasted.code, 0, `mup ${args.join(" ")}: ${pasted.stdout}${pasted.stderr}`);
    }

    // A deploy whose mongod crashes at startup: its apply failed, its plan is still needed.
    const two = await writeTopology(home, "two.yaml", standaloneTopology([bad]));
    const planned = await mup(deployArgs("two", two, mirror, ["--plan-only", "--json"]), { home });
    const id = JSON.parse(planned.stdout).plan_id;
    const failed = await mup(["plan", "apply", id, "--auto-approve"], {
      home,
      env: { MUP_SIM_CRASH_AT_STARTUP: "14", MUP_SIM_FAULT_PORTS: String(bad) },
    });
    assert.equal(failed.code, 1, failed.stdout + failed.stderr);
    const del = await mup(["plan", "delete", id], { home });
    assert.equal(del.code, 1, del.stdout + del.stderr);
    const hint = del.stderr.split("\n").find((l) => l.startsWith("Hint:")) ?? "";
    const rollback = commandsIn(hint).find((c) => c[0] === "state" && c[1] === "rollback");
    assert.ok(rollback, del.stderr);
    const undone = await mup([...rollback, "--auto-approve"], { home });
    assert.equal(undone.code, 0, undone.stdout + undone.stderr);
    const deleted = await mup(["plan", "delete", id], { home });
    assert.equal(deleted.code, 0, deleted.stdout + deleted.stderr);
  } finally {
    await killAll(home);
  }
});
