/**
 * The pre-flight of `cluster start` and `cluster restart` checks the port of every process it
 * starts: one another process took while the server was stopped makes the plan invalid, naming
 * the holder and the port, before anything changes (it would otherwise fail the start's
 * `port_available` safety check part way through the apply). Locally and over SSH (a real sshd
 * on 127.0.0.2, tests/ssh_helpers.ts).
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import {
  deployArgs,
  freePorts,
  killAll,
  mup,
  output,
  replicaSetTopology,
  tempHome,
  testMirror,
} from "./helpers.ts";
import { clusterDir } from "./apply_helpers.ts";
import { deploy, display, ok } from "./lifecycle_helpers.ts";
import { entry, startSshFixture, topologyFile } from "./ssh_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

/** Listens on host:port, accepting connections and never answering, until `close`. */
function squat(host: string, port: number): { close(): Promise<void> } {
  const l = Deno.listen({ hostname: host, port });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const c of l) held.push(c);
  })().catch(() => {});
  return {
    async close() {
      l.close();
      for (const c of held) c.close();
      await accepting;
    },
  };
}

/** Apply states of cluster `name` (none is written for a plan refused at pre-flight). */
async function applyStates(home: string, name: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(path.join(clusterDir(home, name), "state"))).catch(
    () => [],
  )).map((e) => e.name).sort();
}

Deno.test("cluster start refuses a stopped member's port that another process holds, naming it, before anything changes; restart of running members is not refused over their own ports", async () => {
  const home = await tempHome();
  let squatter: { close(): Promise<void> } | undefined;
  try {
    const ports = freePorts(3);
    await deploy(home, "c1", replicaSetTopology(ports));
    // A restart starts running members again on the ports they hold themselves: valid.
    await ok(home, ["cluster", "restart", "c1", "--dry-run"]);
    const p = ports[2];
    await ok(home, ["cluster", "stop", "c1", "-N", `localhost:${p}`, "--auto-approve"]);
    // Stopping it again, or starting a member that runs, changes nothing: exit 0, no plan.
    for (
      const [args, said] of [
        [["stop", "c1", "-N", `localhost:${p}`], "are already stopped"],
        [["start", "c1", "-N", `localhost:${ports[0]}`], "are already running"],
      ] as const
    ) {
      const again = await mup(["cluster", ...args, "--plan-only", "--detailed-exitcode"], { home });
      assert.equal(again.code, 0, output(again));
      assert.match(
        again.stdout,
        new RegExp(`No changes\\. The selected processes of cluster c1 ${said}\\.`),
        output(again),
      );
    }
    // Display says it was stopped on purpose, and how to start it again.
    const noted = await mup(["cluster", "display", "c1"], { home });
    assert.equal(noted.code, 1, output(noted));
    assert.match(
      noted.stdout,
      new RegExp(
        `Note: localhost:${p} was stopped by the last apply \\(stop, apply-\\w+\\); \`mup cluster start c1 -N localhost:${p}\` starts it again\\.`,
      ),
      output(noted),
    );
    const before = await applyStates(home, "c1");
    squatter = squat("127.0.0.1", p);
    const id = `mongod-localhost-${p}`;
    const held = new RegExp(
      `${id} cannot start: its port localhost:${p} is held by PID ${Deno.pid} \\([^)]*deno[^)]*\\)\\. ` +
        `Stop that process or move it off port ${p} \\(the port is cluster c1's\\)`,
    );
    // A repair (deploy again) says the same of the cluster's own port.
    const repair = await mup(
      deployArgs("c1", path.join(home, "c1.yaml"), await testMirror(), ["--plan-only"]),
      { home },
    );
    assert.equal(repair.code, 1, output(repair));
    assert.match(
      repair.stdout + repair.stderr,
      new RegExp(
        `localhost:${p} \\(held by PID ${Deno.pid} [^\\n]*\\): this cluster's own port, taken while its server was down; stop that process or move it off port ${p}`,
      ),
      output(repair),
    );
    const dry = await mup(["cluster", "start", "c1", "--dry-run"], { home });
    assert.equal(dry.code, 1, output(dry));
    assert.match(dry.stdout + dry.stderr, held, output(dry));
    assert.doesNotMatch(dry.stdout, /Plan is valid/);
    const json = await mup(["cluster", "start", "c1", "--auto-approve", "--json"], { home });
    assert.equal(json.code, 1, output(json));
    const err = JSON.parse(json.stdout.trim().split("\n").at(-1)!);
    assert.equal(err.type, "error", json.stdout);
    assert.match(JSON.stringify(err), held);
    // Nothing was applied: the member is still down, the others still up.
    assert.deepEqual(await applyStates(home, "c1"), before);
    const shown = await display(home, "c1", 1);
    assert.deepEqual(
      shown.processes.filter((r) => r.state === "DOWN").map((r) => r.id),
      [`localhost:${p}`],
    );
    // Once the port is free again, the start is planned and applied.
    await squatter.close();
    squatter = undefined;
    await ok(home, ["cluster", "start", "c1", "--auto-approve"]);
    assert.equal((await display(home, "c1")).healthy, true);
  } finally {
    await squatter?.close();
    await killAll(home);
  }
});

Deno.test("state rollback of a stop (which starts the cluster again) refuses a port another process took, naming it, before anything changes", async () => {
  const home = await tempHome();
  let squatter: { close(): Promise<void> } | undefined;
  try {
    const [p] = freePorts(1);
    await deploy(
      home,
      "one",
      `mongod_servers:\n  - { host: localhost, port: ${p} }\n`,
    );
    await ok(home, ["cluster", "stop", "one", "--auto-approve"]);
    const before = await applyStates(home, "one");
    squatter = squat("127.0.0.1", p);
    const back = await mup(
      ["state", "rollback", "one", "--checkpoint", "start", "--auto-approve"],
      { home },
    );
    assert.equal(back.code, 1, output(back));
    assert.match(
      back.stdout + back.stderr,
      new RegExp(
        `mongod-localhost-${p} cannot start: its port localhost:${p} is held by PID ${Deno.pid}`,
      ),
      output(back),
    );
    assert.deepEqual(await applyStates(home, "one"), before, "nothing applied");
    await squatter.close();
    squatter = undefined;
    const back2 = await ok(home, [
      "state",
      "rollback",
      "one",
      "--checkpoint",
      "start",
      "--auto-approve",
    ]);
    assert.equal((await display(home, "one")).healthy, true);
    // Its estimates count its own operations, not those of the stop it undid.
    const total = /Total operations: (\d+)/.exec(back2.stdout)?.[1];
    const counted = /for all (\d+) operations|for \d+ of (\d+) operations/.exec(back2.stdout);
    assert.ok(total && counted, back2.stdout);
    assert.equal(counted[1] ?? counted[2], total, back2.stdout);
  } finally {
    await squatter?.close();
    await killAll(home);
  }
});

Deno.test({
  name:
    "SSH: cluster start refuses a remote stopped server's port that another process holds, naming the holder found on its host",
  sanitizeResources: false,
  async fn() {
    const home = await tempHome();
    const f = await startSshFixture(["127.0.0.2"]);
    let squatter: { close(): Promise<void> } | undefined;
    try {
      const [port] = freePorts(1);
      const topo = await topologyFile(home, { mongod_servers: [entry(f, "127.0.0.2", port)] });
      await ok(home, deployArgs("c1", topo, await testMirror(), ["--auto-approve", ...f.flags()]));
      await ok(home, ["cluster", "stop", "c1", "--auto-approve", ...f.flags()]);
      squatter = squat("127.0.0.2", port);
      const id = `mongod-127.0.0.2-${port}`;
      const dry = await mup(["cluster", "start", "c1", "--dry-run", ...f.flags()], { home });
      assert.equal(dry.code, 1, output(dry));
      assert.match(
        dry.stdout + dry.stderr,
        new RegExp(
          `${id} cannot start: its port 127\\.0\\.0\\.2:${port} is held by PID ${Deno.pid} \\([^)]*deno`,
        ),
        output(dry),
      );
      await squatter.close();
      squatter = undefined;
      await ok(home, ["cluster", "start", "c1", "--auto-approve", ...f.flags()]);
    } finally {
      await squatter?.close();
      await killAll(home);
      await f.close();
    }
  },
});
