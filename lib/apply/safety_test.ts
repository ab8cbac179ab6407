import assert from "node:assert/strict";
import { MockExecutor } from "../executor/mock.ts";
import { MongoAccess } from "../mongo/client.ts";
import { check } from "../plan/op_builders.ts";
import { sha256Hex } from "../util/hash.ts";
import { runCheck } from "./safety.ts";

Deno.test("binary_present with the deploy's sha256: passes on that binary, fails on any other, naming both checksums and the repair", async () => {
  const ex = new MockExecutor("db1");
  const installed = sha256Hex(new TextEncoder().encode("the release's mongod"));
  const c = check("start-m:binary", "binary_present", "db1:/opt/bin/mongod", "binary", {
    host: "db1",
    path: "/opt/bin/mongod",
    sha256: installed,
    repair: "mup cluster deploy rs rs.yaml --version 7.0.14",
  });
  const access = new MongoAccess();
  await ex.writeFile("/opt/bin/mongod", "the release's mongod");
  assert.deepEqual(await runCheck(c, ex, access), {
    ok: true,
    status: "binary is the one installed",
  });
  await ex.writeFile("/opt/bin/mongod", "something else");
  const other = sha256Hex(new TextEncoder().encode("something else"));
  const r = await runCheck(c, ex, access);
  assert.equal(r.ok, false);
  assert.equal(
    r.status,
    `binary /opt/bin/mongod is not the one mup installed (sha256 ${other.slice(0, 12)}…, ` +
      `installed ${installed.slice(0, 12)}…): install it again with ` +
      "`mup cluster deploy rs rs.yaml --version 7.0.14` (a repair)",
  );
  ex.files.delete("/opt/bin/mongod");
  assert.equal((await runCheck(c, ex, access)).status, "binary /opt/bin/mongod is missing");
});

Deno.test("port_available and process_not_running: a port or pid file of the process's own server (run with its configuration file, by an earlier start) passes; any other process fails them, named", async () => {
  const { DefaultExecutors } = await import("../executor/factory.ts");
  const ex = new DefaultExecutors();
  const conf = await Deno.makeTempFile({ suffix: "-mongod.conf" });
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  // A process listening on the port, whose command line names `conf` (as `mongod -f conf`).
  const server = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `Deno.listen({ hostname: "127.0.0.1", port: ${port} }); console.log("up"); ` +
      "setTimeout(() => {}, 600_000)",
      conf,
    ],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  try {
    const reader = server.stdout.getReader();
    await reader.read(); // "up": it listens
    reader.releaseLock();
    const access = new MongoAccess();
    const own = check("start-m:port", "port_available", `localhost:${port}`, "port", {
      host: "localhost",
      port,
      config: conf,
    });
    const r = await runCheck(own, ex, access);
    assert.deepEqual(r, {
      ok: true,
      status: `port ${port} is held by its own server (pid ${server.pid})`,
    });
    const other = check("start-m:port", "port_available", `localhost:${port}`, "port", {
      host: "localhost",
      port,
      config: `${conf}.other`,
    });
    const o = await runCheck(other, ex, access);
    assert.equal(o.ok, false);
    assert.match(o.status, new RegExp(`Port now in use by PID ${server.pid}`));
    // process_not_running, likewise: its pid file written by its own server passes.
    const pidFile = `${conf}.pid`;
    await Deno.writeTextFile(pidFile, `${server.pid}\n`);
    const running = (config: string) =>
      runCheck(
        check("start-m:not-running", "process_not_running", `localhost:${pidFile}`, "pid", {
          host: "localhost",
          pid_file: pidFile,
          config,
        }),
        ex,
        access,
      );
    assert.deepEqual(await running(conf), {
      ok: true,
      status: `its own server is running (PID ${server.pid})`,
    });
    assert.deepEqual(await running(`${conf}.other`), {
      ok: false,
      status: `a process (PID ${server.pid}) from ${pidFile} is already running`,
    });
    await Deno.remove(pidFile);
  } finally {
    server.kill("SIGKILL");
    await server.status;
    await server.stdout.cancel().catch(() => {});
    await Deno.remove(conf);
  }
});
