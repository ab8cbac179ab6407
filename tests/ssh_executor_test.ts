/** SshExecutor against a real sshd on 127.0.0.2 (tests/ssh_helpers.ts). */
import assert from "node:assert/strict";
import * as path from "node:path";
import { SshExecutor } from "../lib/executor/ssh.ts";
import { SshError } from "../lib/executor/ssh_errors.ts";
import { listeningPorts } from "../lib/executor/ssh_scripts.ts";
import { controlDirFor, type SshSettings } from "../lib/executor/ssh_settings.ts";
import { type SshFixture, startSshFixture } from "./ssh_helpers.ts";
import { waitFor } from "./sim_helpers.ts";
import { installFixture, tempDir } from "./fixture.ts";

installFixture();

function settings(f: SshFixture, dir: string, over: Partial<SshSettings> = {}): SshSettings {
  return {
    user: f.user,
    identityFile: f.key,
    connectTimeoutS: 20,
    options: [`UserKnownHostsFile=${f.knownHosts}`],
    strictHostKeys: false,
    configFile: "/dev/null",
    controlDir: path.join(dir, "ctl"),
    controlPersistS: 60,
    ...over,
  };
}

Deno.test({
  name: "SshExecutor: files, directories, checksums, ports, processes and signals on a real host",
  sanitizeResources: false,
  async fn() {
    const f = await startSshFixture(["127.0.0.2"]);
    const dir = await tempDir("mup-sshx-");
    const s = f.servers[0];
    const ex = new SshExecutor(s.addr, settings(f, dir), s.port);
    try {
      const { rttMs } = await ex.probe();
      assert.ok(rttMs >= 0);
      assert.equal((await ex.platform()).os, "Linux");

      const d = path.join(dir, "it's a $(dir) ; `x`");
      await ex.mkdir(d, 0o750);
      assert.equal((await Deno.stat(d)).mode! & 0o777, 0o750);
      assert.equal(await ex.exists(d), true);
      assert.equal(await ex.exists(path.join(dir, "nothing")), false);

      const file = path.join(d, "sub", "mongod.conf");
      await ex.writeFile(file, "net:\n  port: 1\n", 0o640);
      assert.equal(await Deno.readTextFile(file), "net:\n  port: 1\n");
      assert.equal((await Deno.stat(file)).mode! & 0o777, 0o640);
      // A directory made on the way is the owner's alone, whatever the login's umask (tester45).
      assert.equal((await Deno.stat(path.dirname(file))).mode! & 0o777, 0o700);
      assert.equal(new TextDecoder().decode(await ex.readFile(file)), "net:\n  port: 1\n");
      assert.equal(await ex.readFile(path.join(dir, "nothing")), undefined);
      const bytes = new Uint8Array(256).map((_, i) => i);
      await ex.writeFile(file, bytes, 0o600);
      assert.deepEqual(await ex.readFile(file), bytes);
      // Written by rename: no temp files stay behind.
      assert.deepEqual([...Deno.readDirSync(path.dirname(file))].map((e) => e.name), [
        "mongod.conf",
      ]);
      const sha = await ex.sha256(file);
      assert.match(sha!, /^[0-9a-f]{64}$/);
      assert.equal(await ex.sha256(path.join(dir, "nothing")), undefined);

      // Binaries: streamed once; a second upload of the same content leaves the file alone.
      const src = path.join(dir, "src");
      await Deno.mkdir(src);
      await Deno.writeTextFile(path.join(src, "mongod"), "#!/bin/sh\necho hi\n");
      const bin = path.join(dir, "bin dir");
      await ex.upload(src, bin, ["mongod"]);
      const first = await Deno.stat(path.join(bin, "mongod"));
      assert.equal(first.mode! & 0o777, 0o755);
      assert.equal((await Deno.stat(bin)).mode! & 0o777, 0o700);
      await ex.upload(src, bin, ["mongod"]);
      assert.equal((await Deno.stat(path.join(bin, "mongod"))).ino, first.ino);
      await Deno.writeTextFile(path.join(src, "mongod"), "#!/bin/sh\necho new\n");
      await ex.upload(src, bin, ["mongod"]);
      assert.notEqual((await Deno.stat(path.join(bin, "mongod"))).ino, first.ino);
      assert.equal((await ex.run([path.join(bin, "mongod")])).stdout, "new\n");

      // Ports: the sshd's own port is taken; a port nobody listens on is free.
      assert.equal(await ex.portFree(s.port), false);
      const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const port = (l.addr as Deno.NetAddr).port;
      l.close();
      assert.equal(await ex.portFree(port), true);
      // Who listens on a port: the sshd's own (its PID and command line); nobody on a free one.
      const holder = await ex.portHolder(s.port);
      assert.ok(holder && holder.pid > 0, JSON.stringify(holder));
      assert.match(holder.command ?? "", /sshd/, JSON.stringify(holder));
      assert.equal(await ex.portHolder(port), undefined);
      // A server started from its configuration's directory with a relative `-f`: the command
      // names the file by its full path, made from the process's working directory.
      const script = path.join(d, "listen.ts");
      await Deno.writeTextFile(
        script,
        "Deno.listen({ hostname: '127.0.0.1', port: Number(Deno.args[2]) }); " +
          "setInterval(() => {}, 1e9);",
      );
      const server = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--quiet", script, "-f", "sub/mongod.conf", String(port)],
        cwd: d,
        stdout: "null",
        stderr: "null",
      }).spawn();
      try {
        const held = await waitFor(() => ex.portHolder(port), 30_000);
        assert.equal(held.pid, server.pid);
        assert.ok(held.command?.includes(` -f ${file} `), held.command);
        assert.equal(await ex.processCwd(server.pid), d);
        // Found by its configuration too, named relatively from its working directory.
        const named = await ex.processesWith(file);
        assert.deepEqual(named.map((p) => p.pid), [server.pid], JSON.stringify(named));
        assert.ok(named[0].command.includes(` -f ${file} `), named[0].command);
      } finally {
        server.kill("SIGKILL");
        await server.status;
      }
      assert.equal(await ex.processCwd(server.pid), undefined);

      // Processes: a sleeper started here is alive over SSH until signalled, and found by an
      // argument given whole (a space and a quote in it), not by a part of one.
      const odd = path.join(dir, "it's a conf");
      // A shell that waits on its stdin, the argument in its argv.
      const sleeper = new Deno.Command("sh", {
        args: ["-c", 'read x; : "$1"', "sh", odd],
        stdin: "piped",
      }).spawn();
      const [found, ...more] = await ex.processesWith(odd);
      assert.equal(found?.pid, sleeper.pid, JSON.stringify([found, ...more]));
      assert.ok(found.command.endsWith(`sh -c read x; : "$1" sh ${odd}`), found.command);
      assert.deepEqual(more, []);
      assert.deepEqual(await ex.processesWith(odd.slice(0, -1)), []);
      assert.equal(await ex.processAlive(sleeper.pid), true);
      await ex.signal(sleeper.pid, "SIGTERM");
      await sleeper.status;
      assert.equal(await ex.processAlive(sleeper.pid), false);
      assert.deepEqual(await ex.processesWith(odd), []);
      await ex.signal(sleeper.pid, "SIGTERM"); // already gone: no error

      // argv and environment arrive as given.
      const r = await ex.run(["printf", "%s|", "a b", "$HOME", "'"], { env: { X: "1 2" } });
      assert.equal(r.stdout, "a b|$HOME|'|");
      assert.equal(
        (await ex.run(["sh", "-c", 'printf %s "$X"'], { env: { X: "1 2" } })).stdout,
        "1 2",
      );
      await assert.rejects(
        () => ex.run(["no-such-command-for-mup"]),
        (e) =>
          e instanceof SshError && e.kind === "command_not_found" &&
          /no-such-command-for-mup was not found on 127\.0\.0\.2/.test(e.message),
      );

      await ex.remove(d);
      assert.equal(await ex.exists(d), false);
      // One connection carried all of this.
      assert.equal(await s.acceptedConnections(), 1);
    } finally {
      await ex.close();
      await f.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name:
    "SshExecutor: the masters of a mup that is gone (kill -9) are ended and their directory removed by the next one's first connection; a running mup's are left (tester45)",
  sanitizeResources: false,
  async fn() {
    const f = await startSshFixture(["127.0.0.2"]);
    const dir = await tempDir("mup-sshx-");
    const s = f.servers[0];
    // A PID that ran and is gone: a killed mup's.
    const gone = new Deno.Command("true").spawn();
    await gone.status;
    const dead = path.join(dir, "ssh", String(gone.pid));
    const live = path.join(dir, "ssh", String(Deno.pid));
    const left = new SshExecutor(s.addr, settings(f, dir, { controlDir: dead }), s.port);
    const other = new SshExecutor(s.addr, settings(f, dir, { controlDir: live }), s.port);
    const mine = path.join(dir, "ssh", "1");
    const next = new SshExecutor(s.addr, settings(f, dir, { controlDir: mine }), s.port);
    try {
      // The running mup connects first: the killed one's directory is not there yet.
      assert.equal(await other.exists("/"), true);
      assert.equal(await left.exists("/"), true);
      const [socket] = [...Deno.readDirSync(dead)].map((e) => path.join(dead, e.name));
      const master = async () =>
        (await new Deno.Command("pgrep", { args: ["-f", socket], stdout: "piped" }).output())
          .code === 0;
      assert.ok(await master(), "the killed mup's master runs (ControlPersist)");
      // The next mup (PID 1 here: any other running PID) connects.
      assert.equal(await next.exists("/"), true);
      await waitFor(async () => !(await master()) || undefined, 10_000);
      await waitFor(
        () => Deno.stat(dead).then(() => undefined, () => true),
        10_000,
      );
      assert.ok((await Deno.stat(live)).isDirectory, "a running mup's directory stays");
      assert.equal(await other.exists("/"), true, "and its master still serves it");
    } finally {
      await next.close();
      await other.close();
      await left.close();
      await f.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name:
    "SshExecutor: a host that accepts TCP but never speaks fails after --ssh-timeout; asked again, it fails at once without connecting (tester58)",
  sanitizeResources: false,
  async fn() {
    const dir = await tempDir("mup-sshx-");
    const silent = Deno.listen({ hostname: "127.0.0.2", port: 0 });
    const held: Deno.Conn[] = [];
    const accepting = (async () => {
      for await (const c of silent) held.push(c);
    })();
    try {
      const ex = new SshExecutor("127.0.0.2", {
        connectTimeoutS: 1,
        options: [`UserKnownHostsFile=${path.join(dir, "kh")}`],
        strictHostKeys: false,
        configFile: "/dev/null",
        controlDir: path.join(dir, "ctl"),
        controlPersistS: 60,
      }, (silent.addr as Deno.NetAddr).port);
      await assert.rejects(
        () => ex.exists("/"),
        (e) =>
          e instanceof SshError && e.kind === "timeout" &&
          /cannot reach 127\.0\.0\.2 port \d+: no connection within 1s/.test(e.message),
      );
      assert.equal(held.length, 1);
      // Pre-flight asks a host several times: a dead one is not waited for again each time.
      for (const ask of [() => ex.exists("/"), () => ex.mkdir("/tmp/x"), () => ex.portFree(1)]) {
        await assert.rejects(ask, (e) => e instanceof SshError && e.kind === "timeout");
      }
      assert.equal(held.length, 1, "one connection attempt in all");
    } finally {
      silent.close();
      for (const c of held) c.close();
      await accepting.catch(() => {});
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** A TCP relay to addr:port that can be frozen: data stops flowing, no connection closes. */
class FreezableRelay {
  private frozen = false;
  private readonly conns: Deno.Conn[] = [];
  private readonly listener = Deno.listen({ hostname: "127.0.0.2", port: 0 });
  private readonly accepting: Promise<void>;
  readonly port = (this.listener.addr as Deno.NetAddr).port;

  constructor(target: { addr: string; port: number }) {
    this.accepting = (async () => {
      for await (const c of this.listener) {
        const up = await Deno.connect({ hostname: target.addr, port: target.port });
        this.conns.push(c, up);
        this.pump(c, up);
        this.pump(up, c);
      }
    })().catch(() => {});
  }

  private async pump(src: Deno.Conn, dst: Deno.Conn): Promise<void> {
    const buf = new Uint8Array(65536);
    try {
      while (true) {
        const n = await src.read(buf);
        if (n === null || this.frozen) break; // frozen: swallow everything from now on
        await dst.write(buf.subarray(0, n));
      }
    } catch {
      // Closed.
    }
    if (this.frozen) await new Promise(() => {}).catch(() => {}); // hold the socket open
  }

  freeze(): void {
    this.frozen = true;
  }

  async close(): Promise<void> {
    this.listener.close();
    for (const c of this.conns) {
      try {
        c.close();
      } catch {
        // Already closed.
      }
    }
    await this.accepting;
  }
}

Deno.test({
  name:
    "SshExecutor: a network cut (packets stop, nothing closes) fails the next command instead of hanging",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const f = await startSshFixture(["127.0.0.2"]);
    const dir = await tempDir("mup-sshx-");
    const relay = new FreezableRelay(f.servers[0]);
    // The user's -o comes first and ssh keeps the first value: keep-alives every 2 s, 2 missed
    // (mup's default is 5 s × 3), so the cut is noticed in about 4 s instead of 15 s.
    const base = settings(f, dir, { connectTimeoutS: 8 });
    const ex = new SshExecutor("127.0.0.2", {
      ...base,
      options: [...base.options, "ServerAliveInterval=2", "ServerAliveCountMax=2"],
    }, relay.port);
    try {
      assert.equal(await ex.exists("/"), true);
      relay.freeze();
      // The master notices within ServerAliveInterval × ServerAliveCountMax; the command fails.
      await assert.rejects(
        () => ex.exists("/"),
        (e) =>
          e instanceof SshError &&
          // Usually the client falls back to a new connection, which times out at the banner.
          /(cannot reach|did not finish).*127\.0\.0\.2/.test(e.message),
      );
    } finally {
      await ex.close();
      await relay.close();
      await f.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test("listeningPorts reads ss -Hltn and /proc/net/tcp", () => {
  const ss = [
    "ss",
    "LISTEN 0      128        127.0.0.2:27017      0.0.0.0:*",
    "LISTEN 0      4096            [::]:22             [::]:*",
    "LISTEN 0      4096               *:8080             *:*",
    "",
  ].join("\n");
  assert.deepEqual([...listeningPorts(ss)].sort(), [22, 27017, 8080].sort());
  const proc = [
    "proc",
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
    "   0: 0200007F:6989 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1",
    "   1: 0100007F:1F90 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000     0        0 2 1",
  ].join("\n");
  assert.deepEqual([...listeningPorts(proc)], [27017]);
});

Deno.test("controlDirFor keeps socket paths short enough for a Unix socket", () => {
  assert.equal(controlDirFor("/tmp/h", 42), "/tmp/h/ssh/42");
  const long = controlDirFor("/" + "x".repeat(120), 42);
  assert.ok(long.startsWith("/tmp/mup-ssh-"));
  assert.ok(long.length + 17 + 17 < 108);
});
