/** cluster display's live probe never hangs on a process that accepts but does not answer. */
import assert from "node:assert/strict";
import { MongoAccess } from "../lib/mongo/client.ts";
import { probeProcesses } from "../lib/probe/live.ts";
import { freePorts } from "./helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

Deno.test("a process that accepts connections but never answers shows DOWN with the reason, within the timeout", async () => {
  // A listener that accepts and then says nothing, as a hung host would.
  const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (silent.addr as Deno.NetAddr).port;
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const c of silent) held.push(c);
  })().catch(() => {});
  const [refused] = freePorts(1);
  try {
    const rows = await probeProcesses(
      new MongoAccess(),
      [
        { id: "mongod-a", role: "mongod", host: "localhost", port, config: "", pid_file: "" },
        {
          id: "mongod-b",
          role: "mongod",
          host: "localhost",
          port: refused,
          config: "",
          pid_file: "",
        },
      ],
      new Map(),
      500,
    );
    const byPort = new Map(rows.map((r) => [r.port, r]));
    assert.equal(byPort.get(port)!.state, "DOWN");
    assert.match(byPort.get(port)!.reason!, /no answer within 0.5s/);
    assert.equal(byPort.get(refused)!.reason, "connection refused");
  } finally {
    silent.close();
    for (const c of held) c.close();
    await accepting;
  }
});
