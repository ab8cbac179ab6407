/**
 * Remote hosts over SSH, against real sshd processes on 127.0.0.2 and 127.0.0.3 (tests/
 * ssh_helpers.ts). Those "remote" hosts are this machine, so the simulator binaries are reachable
 * there; every process has its own port, so their directories never collide.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import {
  deployArgs,
  freePorts,
  killAll,
  mup,
  output,
  spawnMup,
  tempHome,
  testMirror,
} from "./helpers.ts";
import { clusterDir, currentState, withClient } from "./apply_helpers.ts";
import { entry, startSshFixture, topologyFile } from "./ssh_helpers.ts";
import { deadline, installFixture } from "./fixture.ts";

installFixture();

Deno.test({
  name:
    "SSH: unknown host, wrong port, refused key, changed and unknown host keys each fail planning with a message naming the host and the fix",
  sanitizeResources: false,
  async fn() {
    const home = await tempHome();
    const f = await startSshFixture(["127.0.0.2"]);
    const sshd = f.servers[0];
    const [port] = freePorts(1);
    const plan = async (host: string, sshPort: number | undefined, flags: string[]) => {
      const topo = await topologyFile(home, {
        mongod_servers: [{ host, port, ...(sshPort ? { ssh_port: sshPort } : {}) }],
      });
      return await mup(deployArgs("c1", topo, await testMirror(), ["--plan-only", ...flags]), {
        home,
      });
    };
    try {
      let r = await plan("no-such-host.invalid", undefined, f.flags());
      assert.equal(r.code, 1, output(r));
      assert.match(
        r.stdout,
        /✗ cannot reach 1 of 1 host:\n {4}- mongod_servers\[0\]: cannot resolve host name no-such-host\.invalid/,
      );
      assert.match(r.stdout, /check the host name in the topology/);
      // What could not be checked there is never reported as passed.
      assert.doesNotMatch(r.stdout, /✓ (Disk space|All ports|every data|every deploy, data)/);
      assert.match(r.stdout, /Disk space not checked: no host could be reached/);
      assert.match(r.stdout, /1 not checked: their host could not be reached/);
      // Nor are the directories there (tester26).
      for (
        const check of [
          "every data directory is new",
          "can be created or written",
          "no other mongod runs on a data directory", // tester74
        ]
      ) {
        assert.match(
          r.stdout,
          new RegExp(`! .*${check}.*\\(not checked on no-such-host\\.invalid: not reached\\)`),
          r.stdout,
        );
      }

      const closed = freePorts(1)[0]; // nothing listens there
      r = await plan("127.0.0.2", closed, f.flags());
      assert.equal(r.code, 1, output(r));
      assert.match(
        r.stdout,
        new RegExp(
          `cannot reach 127\\.0\\.0\\.2 port ${closed} over SSH \\(ssh exit 255: .*Connection refused\\)`,
        ),
      );
      assert.match(r.stdout, /check that sshd runs on 127\.0\.0\.2 and listens on port/);

      // --strict-host-keys with an empty known_hosts: the key is unknown, nothing is accepted.
      r = await plan("127.0.0.2", sshd.port, [...f.flags(), "--strict-host-keys"]);
      assert.equal(r.code, 1, output(r));
      assert.match(
        r.stdout,
        /the SSH host key of 127\.0\.0\.2 port \d+ is not known and --strict-host-keys is set/,
      );
      // The fingerprint is asked of the port sshd listens on, not 22 (tester74).
      assert.ok(r.stdout.includes(`ssh-keyscan -p ${sshd.port} 127.0.0.2`), output(r));
      assert.equal(await Deno.stat(f.knownHosts).then(() => true, () => false), false);

      r = await plan("127.0.0.2", sshd.port, f.flags({ key: f.otherKey }));
      assert.equal(r.code, 1, output(r));
      assert.match(
        r.stdout,
        new RegExp(
          `127\\.0\\.0\\.2 port ${sshd.port} refused authentication for user ${f.user} with key ${f.otherKey}`,
        ),
      );
      // The advice names where the user and the key came from (tester96).
      assert.match(
        r.stdout,
        /give the right user and key \(the user from --user, the key from -i\/--identity-file;/,
      );

      // An identity file that is not there: ssh would only warn and try other keys (tester79).
      r = await plan("127.0.0.2", sshd.port, f.flags({ key: path.join(home, "no-such-key") }));
      assert.equal(r.code, 1, output(r));
      assert.match(
        r.stderr,
        /SSH identity file .*no-such-key \(-i\/--identity-file\) does not exist; ssh would try other keys instead/,
      );

      // accept-new (the default) records the key; a changed key is refused afterwards.
      r = await plan("127.0.0.2", sshd.port, f.flags());
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(await Deno.readTextFile(f.knownHosts), /127\.0\.0\.2/);
      // Two SSH hosts that are one machine (loopback) are reached, and lost, each on its own:
      // only the one that cannot be reached goes unchecked (tester101 #2).
      const [port2] = freePorts(1);
      const two = await topologyFile(home, {
        mongod_servers: [
          { host: "127.0.0.3", port: port2, ssh_port: closed, replica_set: "rs0" },
          { host: "127.0.0.2", port, ssh_port: sshd.port, replica_set: "rs0" },
        ],
      });
      r = await mup(deployArgs("c2", two, await testMirror(), ["--plan-only", ...f.flags()]), {
        home,
      });
      assert.equal(r.code, 1, output(r));
      for (const check of ["every data directory is new", "no other mongod runs on a data"]) {
        assert.match(
          r.stdout,
          new RegExp(`! .*${check}.*\\(not checked on 127\\.0\\.0\\.3: not reached\\)`),
          output(r),
        );
      }
      // Each host that cannot be reached on a line of its own, under its topology entry.
      const [port3] = freePorts(1);
      const three = await topologyFile(home, {
        mongod_servers: [
          { host: "127.0.0.2", port, ssh_port: sshd.port, replica_set: "rs0" },
          { host: "127.0.0.3", port: port2, ssh_port: closed, replica_set: "rs0" },
          { host: "127.0.0.4", port: port3, ssh_port: closed, replica_set: "rs0" },
        ],
      });
      r = await mup(deployArgs("c2", three, await testMirror(), ["--plan-only", ...f.flags()]), {
        home,
      });
      assert.equal(r.code, 1, output(r));
      assert.match(
        r.stdout,
        new RegExp(
          `✗ cannot reach 2 of 3 hosts:\\n` +
            `    - mongod_servers\\[1\\]: cannot reach 127\\.0\\.0\\.3 port ${closed} over SSH [^\\n]*\\n` +
            `    - mongod_servers\\[2\\]: cannot reach 127\\.0\\.0\\.4 port ${closed} over SSH `,
        ),
        output(r),
      );
      // The review's Validation lists the hosts below the error's bullet (tester104 #6).
      assert.match(r.stdout, /\n {2}• cannot reach 2 of 3 hosts:\n {4}- mongod_servers\[1\]: /);

      // A data directory that cannot be created there (a file in the way) is refused at
      // pre-flight, naming the host, the directory and what is in the way.
      const blocker = path.join(home, "a-file");
      await Deno.writeTextFile(blocker, "not a directory\n");
      const blocked = await topologyFile(home, {
        mongod_servers: [{
          host: "127.0.0.2",
          port,
          ssh_port: sshd.port,
          data_dir: path.join(blocker, "db"),
        }],
      });
      r = await mup(deployArgs("c1", blocked, await testMirror(), ["--plan-only", ...f.flags()]), {
        home,
      });
      assert.equal(r.code, 1, output(r));
      assert.ok(
        r.stdout.includes(
          `data directory 127.0.0.2:${blocker}/db of mongod-127.0.0.2-${port} cannot be ` +
            `created: ${blocker} is in the way: it exists and is not a directory`,
        ),
        output(r),
      );
      await sshd.kill();
      await sshd.changeHostKey();
      await sshd.start();
      r = await plan("127.0.0.2", sshd.port, f.flags());
      assert.equal(r.code, 1, output(r));
      assert.match(
        r.stdout,
        /the SSH host key of 127\.0\.0\.2 port \d+ has changed since it was first seen/,
      );
      // The name known_hosts gives a host off port 22, which ssh-keygen -R needs (tester74).
      assert.ok(r.stdout.includes(`ssh-keygen -R '[127.0.0.2]:${sshd.port}'`), output(r));
      for (const out of [r.stdout, r.stderr]) assert.doesNotMatch(out, /at .*\.ts:\d+/); // no stack
    } finally {
      await killAll(home);
      await f.close();
    }
  },
});

Deno.test({
  name:
    "SSH: a host whose sshd is down is not taken for one whose servers are stopped: stop, start and restart are refused at planning, naming it",
  sanitizeResources: false,
  async fn() {
    const home = await tempHome();
    const f = await startSshFixture(["127.0.0.2"]);
    try {
      const [port] = freePorts(1);
      const topo = await topologyFile(home, { mongod_servers: [entry(f, "127.0.0.2", port)] });
      const deployed = await mup(
        deployArgs("c1", topo, await testMirror(), ["--auto-approve", ...f.flags()]),
        { home },
      );
      assert.equal(deployed.code, 0, output(deployed));
      await f.servers[0].kill();
      for (const cmd of ["stop", "start", "restart"]) {
        const r = await mup(["cluster", cmd, "c1", "--plan-only", "--json", ...f.flags()], {
          home,
        });
        assert.equal(r.code, 1, output(r));
        const doc = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
        const errors = (doc.errors ?? doc.plan?.validation?.errors ?? []) as {
          code: string;
          message: string;
        }[];
        const e = errors.find((x) => x.code === "host_unreachable");
        assert.ok(e, `${cmd}: ${r.stdout}`);
        assert.match(
          e.message,
          new RegExp(
            `127\\.0\\.0\\.2 could not be asked whether mongod-127\\.0\\.0\\.2-${port} runs \\(`,
          ),
        );
        assert.match(e.message, /mup does not plan on a guess/);
        // Nothing is said of the server itself: it may well run (it does).
        assert.ok(!errors.some((x) => /is not running/.test(x.message)), `${cmd}: ${r.stdout}`);
      }
      // The server itself never stopped: it still accepts connections on its address.
      const conn = await Deno.connect({ hostname: "127.0.0.2", port });
      conn.close();
    } finally {
      await killAll(home);
      await f.close();
    }
  },
});

Deno.test({
  name:
    "SSH: sshd killed between plan and apply stops the apply before any operation runs, naming the host",
  sanitizeResources: false,
  async fn() {
    const home = await tempHome();
    const f = await startSshFixture(["127.0.0.2"]);
    try {
      const [port] = freePorts(1);
      const topo = await topologyFile(home, { mongod_servers: [entry(f, "127.0.0.2", port)] });
      const planned = await mup(
        deployArgs("c1", topo, await testMirror(), ["--plan-only", ...f.flags()]),
        { home },
      );
      assert.equal(planned.code, 0, planned.stdout + planned.stderr);
      await f.servers[0].kill();
      const r = await mup(["plan", "apply", "c1", "--auto-approve", ...f.flags()], { home });
      assert.equal(r.code, 1, output(r));
      assert.match(r.stderr, /Error: cannot reach 1 of 1 host; nothing was applied:/);
      assert.match(
        r.stderr,
        /cannot reach 127\.0\.0\.2 port \d+ over SSH \(ssh exit 255: .*Connection refused\)/,
      );
      assert.match(r.stderr, /Hint: bring the hosts back/);
      const state = path.join(clusterDir(home, "c1"), "state", "current-apply.json");
      assert.equal(await Deno.stat(state).then(() => true, () => false), false);
    } finally {
      await killAll(home);
      await f.close();
    }
  },
});

Deno.test({
  name:
    "SSH: Ctrl-C while the confirmed apply still reaches its hosts cancels it, saying nothing was applied and how to apply the kept plan",
  sanitizeResources: false,
  async fn() {
    const home = await tempHome();
    const f = await startSshFixture(["127.0.0.2"]);
    const proxyPid = path.join(home, "proxy.pid");
    try {
      const [port] = freePorts(1);
      const topo = await topologyFile(home, { mongod_servers: [entry(f, "127.0.0.2", port)] });
      const planned = await mup(
        deployArgs("c1", topo, await testMirror(), ["--plan-only", "--json", ...f.flags()]),
        { home },
      );
      assert.equal(planned.code, 0, output(planned));
      const planId = JSON.parse(planned.stdout).plan_id;
      // The host answers nothing (a proxy that swallows what ssh sends): reaching it hangs.
      const child = spawnMup(
        [
          "plan",
          "apply",
          planId,
          ...f.flags(),
          "--ssh-option",
          `ProxyCommand=sh -c 'echo $$ > ${proxyPid}; cat >/dev/null'`,
        ],
        home,
        {},
        "piped",
      );
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode("yes\n"));
      await w.close();
      const end = Date.now() + deadline(60_000);
      while (!(await Deno.stat(proxyPid).then(() => true, () => false))) {
        if (Date.now() > end) throw new Error("mup never began to reach the host");
        await new Promise((r) => setTimeout(r, 50));
      }
      child.kill("SIGINT");
      const out = await child.output();
      const text = new TextDecoder().decode(out.stdout);
      assert.equal(out.code, 130, text + new TextDecoder().decode(out.stderr));
      assert.match(text, /Apply cancelled: interrupted before it started\./);
      assert.match(text, /Nothing was applied\. The plan was kept: \S+/);
      assert.match(text, new RegExp(`To apply it later: mup plan apply ${planId}`));
      const state = path.join(clusterDir(home, "c1"), "state", "current-apply.json");
      assert.equal(await Deno.stat(state).then(() => true, () => false), false);
    } finally {
      const pid = Number(await Deno.readTextFile(proxyPid).catch(() => "0"));
      if (pid > 0) {
        try {
          Deno.kill(pid, "SIGKILL"); // the ssh waiting on it then ends too
        } catch {
          // Gone already.
        }
      }
      await killAll(home);
      await f.close();
    }
  },
});

Deno.test({
  name:
    "SSH: sshd killed mid-apply fails the operations on that host with a clear error; after it returns, plan resume completes without repeating work",
  sanitizeResources: false,
  async fn() {
    const home = await tempHome();
    const f = await startSshFixture();
    try {
      const p = freePorts(3);
      const atDeploy = path.join(home, "at-deploy");
      const killed = path.join(home, "killed");
      // The deploy phase's hook waits until the test has killed 127.0.0.3's sshd.
      const hook = `[ -e '${killed}' ] && exit 0; touch '${atDeploy}'; ` +
        `while [ ! -e '${killed}' ]; do sleep 0.05; done`;
      const topo = await topologyFile(home, {
        mongod_servers: ["127.0.0.1", "127.0.0.2", "127.0.0.3"].map((h, i) =>
          entry(f, h, p[i], { replica_set: "rs0" })
        ),
        hooks: { before_phase: { command: hook, phase: "deploy" } },
      });
      const child = new Deno.Command(Deno.execPath(), {
        args: (await import("../scripts/_mup_cmd.ts")).mupRunArgs(
          deployArgs("c1", topo, await testMirror(), ["--auto-approve", ...f.flags()]),
        ),
        env: { MUP_HOME: home, NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const output = child.output();
      const end = Date.now() + deadline(120_000);
      while (!(await Deno.stat(atDeploy).then(() => true, () => false))) {
        if (Date.now() > end) throw new Error("the deploy phase never started");
        await new Promise((r) => setTimeout(r, 50));
      }
      await f.servers[1].kill(); // 127.0.0.3
      await Deno.writeTextFile(killed, "");
      const out = await output;
      const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 1, text);
      assert.match(text, /cannot reach 127\.0\.0\.3 port \d+ over SSH/);
      const failed = await currentState(home, "c1");
      assert.equal(failed.status, "failed");
      const failedOps = Object.values(failed.operation_states).filter((o) => o.status === "failed");
      assert.ok(failedOps.length >= 1);
      for (const o of failedOps) assert.match(o.id, /127\.0\.0\.3/, `${o.id} failed: ${o.error}`);
      const doneBefore = Object.values(failed.operation_states)
        .filter((o) => o.status === "completed").map((o) => o.id);

      await f.servers[1].start();
      const r = await mup(["plan", "resume", "c1", "--auto-approve", ...f.flags()], { home });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const st = await currentState(home, "c1");
      assert.equal(st.status, "completed");
      for (const id of doneBefore) assert.equal(st.operation_states[id].executions <= 1, true, id);
      await withClient(
        `mongodb://127.0.0.1:${p[0]},127.0.0.2:${p[1]},127.0.0.3:${p[2]}/?replicaSet=rs0`,
        async (c) => {
          await c.db("app").collection("t").insertOne({ resumed: true });
          assert.equal(await c.db("app").collection("t").countDocuments(), 1);
        },
        { home, cluster: "c1" },
      );
    } finally {
      await killAll(home);
      await f.close();
    }
  },
});

Deno.test({
  name:
    "SSH: directories with shell metacharacters are created literally on the remote host; nothing they spell runs",
  sanitizeResources: false,
  async fn() {
    const home = await tempHome();
    const f = await startSshFixture(["127.0.0.2"]);
    try {
      const [port] = freePorts(1);
      const base = path.join(home, "meta");
      await Deno.mkdir(base);
      const evil = (tag: string) =>
        `a;touch ${base}/x${tag} $(touch ${base}/y${tag}) \`touch ${base}/z${tag}\` 'q" *&|<>`;
      const deployDir = path.join(base, evil("d"));
      const topo = await topologyFile(home, {
        global: {
          deploy_dir: deployDir,
          data_dir: evil("data"),
          log_dir: evil("log"),
          config_dir: evil("conf"),
        },
        mongod_servers: [entry(f, "127.0.0.2", port)],
      });
      const r = await mup(
        deployArgs("c1", topo, await testMirror(), ["--auto-approve", ...f.flags()]),
        { home },
      );
      assert.equal(r.code, 0, r.stdout + r.stderr);
      for (const d of ["data", "log", "conf"]) {
        const dir = path.join(deployDir, evil(d), `mongod-${port}`);
        assert.ok((await Deno.stat(dir)).isDirectory, dir);
      }
      assert.ok(
        (await Deno.stat(path.join(deployDir, evil("conf"), `mongod-${port}`, "mongod.conf")))
          .isFile,
      );
      // Nothing spelled by the names ran: no x, y or z files anywhere under base or in ~.
      const made: string[] = [];
      for await (const e of Deno.readDir(base)) made.push(e.name);
      assert.deepEqual(made.filter((n) => /^[xyz]/.test(n)), []);
      await withClient(`mongodb://127.0.0.2:${port}/`, async (c) => {
        await c.db("app").collection("t").insertOne({ ok: 1 });
        assert.equal(await c.db("app").collection("t").countDocuments(), 1);
      }, { home, cluster: "c1" });
      // What the server made over SSH (data, log, pid file) is its owner's alone, as locally:
      // it runs with umask 077, whatever sshd's (tester79). The installed binaries (bin/) keep
      // the mode their install gives them.
      const open: string[] = [];
      const walk = async (dir: string): Promise<void> => {
        for await (const e of Deno.readDir(dir)) {
          if (dir === deployDir && e.name === "bin") continue;
          const p = path.join(dir, e.name);
          if ((await Deno.lstat(p)).mode! & 0o077) open.push(p);
          if (e.isDirectory) await walk(p);
        }
      };
      await walk(deployDir);
      assert.deepEqual(open, []);
    } finally {
      await killAll(home);
      await f.close();
    }
  },
});

Deno.test({
  name:
    "SSH: --ssh-proxy reaches a host through a jump host that gets the same key and known_hosts",
  sanitizeResources: false,
  async fn() {
    const home = await tempHome();
    const f = await startSshFixture();
    try {
      const [jump, target] = f.servers;
      const [port] = freePorts(1);
      const topo = await topologyFile(home, { mongod_servers: [entry(f, target.addr, port)] });
      // The jump connection gets the same -i, known_hosts and options as the target's.
      const flags = f.flags();
      const r = await mup(
        deployArgs("c1", topo, await testMirror(), [
          "--plan-only",
          ...flags,
          "--ssh-proxy",
          `${jump.addr}:${jump.port}`,
        ]),
        { home },
      );
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /✓ Connectivity to all hosts \(1\/1\)/);
      assert.equal(await jump.acceptedConnections(), 1, "the jump host carried the connection");
      assert.equal(await target.acceptedConnections(), 1);
    } finally {
      await killAll(home);
      await f.close();
    }
  },
});
