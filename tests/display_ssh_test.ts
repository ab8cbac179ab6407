/**
 * `cluster display` of a cluster on a host reached over SSH (a real sshd on 127.0.0.2 on a port
 * of its own, tests/ssh_helpers.ts): it reaches the host as the lifecycle commands do, with the
 * user, key and ssh_port the recorded topology holds and the same SSH flags, and names what holds
 * the port of a stopped remote member. `cluster reconfigure` and `plan diff` reach it the same way.
 */
import assert from "node:assert/strict";
import { deployArgs, freePorts, killAll, mup, output, tempHome, testMirror } from "./helpers.ts";
import { ok } from "./lifecycle_helpers.ts";
import { entry, startSshFixture, topologyFile } from "./ssh_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

interface Row {
  id: string;
  state: string;
  reason?: string;
  healthy: boolean;
}

Deno.test({
  name:
    "SSH: cluster display reaches a remote host with the recorded user, key and ssh_port and the SSH flags, and names what holds a stopped member's port",
  sanitizeResources: false,
  async fn() {
    const home = await tempHome();
    const f = await startSshFixture(["127.0.0.2"]);
    let squatter: Deno.Listener | undefined;
    const held: Deno.Conn[] = [];
    try {
      const [p1, p2] = freePorts(2);
      // The user, key and sshd port are the topology's, recorded in the metadata; the flags
      // only keep ssh off this machine's own configuration and known_hosts.
      const topo = await topologyFile(home, {
        global: { user: f.user, ssh_identity_file: f.key },
        mongod_servers: [
          entry(f, "127.0.0.2", p1, { replica_set: "rs", priority: 2 }),
          entry(f, "127.0.0.2", p2, { replica_set: "rs" }),
        ],
      });
      const flags = [
        "--ssh-config",
        "/dev/null",
        "--ssh-option",
        `UserKnownHostsFile=${f.knownHosts}`,
        "--ssh-timeout",
        "20s",
      ];
      await ok(home, deployArgs("c1", topo, await testMirror(), ["--auto-approve", ...flags]));
      const shown = await mup(["cluster", "display", "c1", "--json", ...flags], { home });
      assert.equal(shown.code, 0, output(shown));
      const rows = JSON.parse(shown.stdout).processes as Row[];
      assert.deepEqual(rows.map((r) => r.state).sort(), ["PRIMARY", "SECONDARY"], shown.stdout);
      assert.doesNotMatch(shown.stdout + shown.stderr, /port 22\b/);

      // A reconfigure reads the members' configuration files on their host, over SSH, with the
      // same settings as every other step (tester26: it asked port 22 first, and planned a
      // start of members that run).
      // The recorded topology with slowOpThresholdMs 250, and the second member's priority.
      const changed = (priority?: number) =>
        topologyFile(home, {
          global: {
            user: f.user,
            ssh_identity_file: f.key,
            runtime_config: { operationProfiling: { slowOpThresholdMs: 250 } },
          },
          mongod_servers: [
            entry(f, "127.0.0.2", p1, { replica_set: "rs", priority: 2 }),
            entry(f, "127.0.0.2", p2, { replica_set: "rs", ...(priority ? { priority } : {}) }),
          ],
        });
      const slower = await changed();
      const re = await mup(
        ["cluster", "reconfigure", "c1", slower, "--auto-approve", ...flags],
        { home },
      );
      assert.equal(re.code, 0, output(re));
      assert.doesNotMatch(output(re), /port 22\b|Phase \d\/\d: Start/);
      assert.match(re.stdout, /Phase 3\/4: Restart mongod/);
      assert.match(re.stdout, /Reconfiguration completed successfully!/);
      const diff = await mup(["plan", "diff", "c1", "--detailed-exitcode", ...flags], { home });
      assert.equal(diff.code, 0, output(diff));
      // A member's priority alone is a replica set reconfig: no member is restarted, which
      // needs every configuration file found as mup wrote it (read over SSH).
      const members = await changed(0.5);
      const prio = await mup(
        ["cluster", "reconfigure", "c1", members, "--auto-approve", ...flags],
        { home },
      );
      assert.equal(prio.code, 0, output(prio));
      assert.doesNotMatch(prio.stdout, /Restart|Started mongod/, prio.stdout);

      // A stopped remote member whose port something else took: the holder is named, found
      // over SSH on its host.
      await ok(home, [
        "cluster",
        "stop",
        "c1",
        "-N",
        `127.0.0.2:${p2}`,
        "--auto-approve",
        ...flags,
      ]);
      squatter = Deno.listen({ hostname: "127.0.0.2", port: p2 });
      const accepting = (async () => {
        for await (const c of squatter!) held.push(c);
      })().catch(() => {});
      const down = await mup(
        ["cluster", "display", "c1", "--json", "--timeout", "500ms", ...f.flags()],
        { home },
      );
      assert.equal(down.code, 1, output(down));
      const row = (JSON.parse(down.stdout).processes as Row[]).find((r) =>
        r.id === `127.0.0.2:${p2}`
      );
      assert.equal(row?.state, "DOWN", down.stdout);
      assert.match(row!.reason ?? "", new RegExp(`port ${p2} is held by PID ${Deno.pid} \\(`));
      squatter.close();
      squatter = undefined;
      await accepting;
    } finally {
      squatter?.close();
      for (const c of held) c.close();
      await killAll(home);
      await f.close();
    }
  },
});
