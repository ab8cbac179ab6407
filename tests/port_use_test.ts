/**
 * How mup names what uses a port: the listening process on one line whatever its command line
 * holds, and, when nothing listens, the connection whose local end is the port (established, or
 * closing in TIME-WAIT), from the kernel's own tables through real sockets.
 */
import assert from "node:assert/strict";
import { describeHolder, portConnection, portFree } from "../lib/preflight/ports.ts";

Deno.test("a holder's command line with newlines and tabs is shown on one line", () => {
  assert.equal(
    describeHolder({ pid: 7, command: "sh -c echo one\n  echo two\tthree" }),
    "PID 7 (sh -c echo one echo two three)",
  );
});

Deno.test("a port that is the local end of a connection is named as such: ESTABLISHED, then TIME-WAIT once closed", async () => {
  const server = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serverPort = (server.addr as Deno.NetAddr).port;
  const accepted = server.accept();
  const client = await Deno.connect({ hostname: "127.0.0.1", port: serverPort });
  const peer = await accepted;
  const local = (client.localAddr as Deno.NetAddr).port;
  try {
    const open = await portConnection(local);
    assert.equal(
      open,
      `the local end of an ESTABLISHED connection 127.0.0.1:${local} → 127.0.0.1:${serverPort}`,
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
          "\\(closing: the kernel frees the port within a minute\\)$",
      ),
    );
  } finally {
    try {
      client.close();
    } catch { /* closed above */ }
    server.close();
  }
});
