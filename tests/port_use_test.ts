/**
 * How mup names what uses a port: the listening process on one line whatever its command line
 * holds, and, when nothing listens, the connection whose local end is the port (established, or
 * closing in TIME-WAIT), from the kernel's own tables through real sockets.
 */
import assert from "node:assert/strict";
import { allocatePort, describeHolder, portConnection, portFree } from "../lib/preflight/ports.ts";
import { allocatePorts } from "../lib/preflight/preflight.ts";
import { parseTopology } from "../lib/topology/load.ts";

Deno.test("a holder's command line with newlines and tabs is shown on one line", () => {
  assert.equal(
    describeHolder({ pid: 7, command: "sh -c echo one\n  echo two\tthree" }),
    "PID 7 (sh -c echo one echo two three)",
  );
  // A long one keeps its program and its end, where a server's configuration file is named
  // (tester40 L11).
  const long = `/root/.npm/_npx/${"a".repeat(60)}/node_modules/deno/deno run -A --quiet ` +
    `--config=/tmp/x/deno.json /tmp/x/sim/server.ts ${"--flag ".repeat(10)}-f ` +
    "/srv/mup/clusters/c1/deploy/conf/mongos-28127/mongos.conf";
  const shown = describeHolder({ pid: 8, command: long });
  assert.match(
    shown,
    /^PID 8 \(…\/deno ….*-f \/srv\/mup\/clusters\/c1\/deploy\/conf\/mongos-28127\/mongos\.conf\)$/,
  );
  assert.ok(shown.length <= "PID 8 ()".length + 120, shown);
});

Deno.test("a port that is the local end of a connection is named as such: ESTABLISHED, then TIME-WAIT once closed (which still holds it), each in the ephemeral range", async () => {
  const low = Number(
    (await Deno.readTextFile("/proc/sys/net/ipv4/ip_local_port_range")).trim().split(/\s+/)[0],
  );
  const server = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serverPort = (server.addr as Deno.NetAddr).port;
  const accepted = server.accept();
  const client = await Deno.connect({ hostname: "127.0.0.1", port: serverPort });
  const peer = await accepted;
  const local = (client.localAddr as Deno.NetAddr).port;
  try {
    const open = await portConnection(local);
    // The client's port is an ephemeral one: the text says so.
    assert.equal(
      open,
      `the local end of an ESTABLISHED connection 127.0.0.1:${local} → 127.0.0.1:${serverPort}` +
        `; port ${local} is inside this host's ephemeral range (from ${low}, ` +
        "net.ipv4.ip_local_port_range), where outgoing connections take their local ports: a " +
        "port below it avoids this",
    );
    assert.equal(portFree("127.0.0.1", local), false, "a bind to it fails");
    // The side that closes first keeps the connection in TIME-WAIT.
    client.close();
    const buf = new Uint8Array(1);
    assert.equal(await peer.read(buf), null);
    peer.close();
    let closing: string | undefined;
    for (let i = 0; i < 50 && !closing?.includes("TIME-WAIT"); i++) {
      closing = await portConnection(local);
      if (!closing?.includes("TIME-WAIT")) await new Promise((r) => setTimeout(r, 20));
    }
    // (An older connection of the same local port, closed by another test, may be named.)
    assert.match(
      closing ?? "",
      new RegExp(
        `^a TIME-WAIT connection 127\\.0\\.0\\.1:${local} → 127\\.0\\.0\\.1:\\d+ ` +
          "\\(closing: the kernel frees the port within a minute\\); " +
          `port ${local} is inside this host's ephemeral range`,
      ),
    );
    // As said: the client's TIME-WAIT holds the port, even against a server's bind.
    assert.equal(portFree("127.0.0.1", local), false, "a bind to it still fails");
  } finally {
    try {
      client.close();
    } catch { /* closed above */ }
    server.close();
  }
});

Deno.test("port 0 is given a port between 27017 and the ephemeral range: a taken or busy one is passed over, and one cluster's ports are next to each other", async () => {
  const low = Number(
    (await Deno.readTextFile("/proc/sys/net/ipv4/ip_local_port_range")).trim().split(/\s+/)[0],
  );
  // A listener in the range: a search starting there passes over it and a port marked taken.
  let busy: Deno.Listener | undefined;
  for (let p = 27_100; !busy; p++) {
    try {
      busy = Deno.listen({ hostname: "127.0.0.1", port: p });
    } catch {
      // In use: the next one.
    }
  }
  const at = (busy.addr as Deno.NetAddr).port;
  try {
    const got = allocatePort("localhost", new Set([at + 1]), at);
    assert.ok(got > at + 1 && got < low, `${got}`);
    assert.equal(portFree("127.0.0.1", got), true);
  } finally {
    busy.close();
  }
  const { topology } = await parseTopology(
    "mongod_servers:\n" +
      "  - { host: localhost, port: 0, replica_set: rs }\n" +
      "  - { host: localhost, port: 0, replica_set: rs }\n" +
      "  - { host: localhost, port: 27999, replica_set: rs }\n",
    "t.yaml",
  );
  for (let i = 0; i < 20; i++) {
    const ports = allocatePorts(topology, [28_000]).mongod_servers.map((s) => s.port);
    assert.equal(ports[2], 27999);
    assert.ok(ports.slice(0, 2).every((p) => p >= 27017 && p < low), `${ports}`);
    assert.ok(!ports.slice(0, 2).some((p) => p === 27999 || p === 28_000), `${ports}`);
    // Next to each other, unless the next port was busy (or the search wrapped around).
    assert.ok(ports[1] > ports[0] && ports[1] - ports[0] < 100 || ports[0] > low - 100, `${ports}`);
  }
});
