/**
 * cluster display's live probe: never hangs on a process that accepts but does not answer; shows
 * members as the set's live configuration has them (hidden, priority 0, delayed).
 */
import assert from "node:assert/strict";
import { MongoAccess } from "../lib/mongo/client.ts";
import { describeState, probeProcesses } from "../lib/probe/live.ts";
import {
  clusterCredentials,
  deployArgs,
  freePorts,
  killAll,
  mup,
  output,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import {
  admin,
  adminError,
  memberState,
  simBin,
  startReplSet,
  waitFor,
  withDir,
} from "./sim_helpers.ts";
import { type CheckOutcome, runCheck } from "../lib/apply/safety.ts";
import { DefaultExecutors } from "../lib/executor/factory.ts";
import { asAdmin, client } from "./security_helpers.ts";
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

Deno.test("a stopped server is known at the driver's first check, not after the answer timeout: the error is the refusal itself", async () => {
  const [refused] = freePorts(1);
  const access = new MongoAccess();
  // A timeout far longer than the test: without the first-check rule the driver would wait it
  // out and fail with MongoServerSelectionError instead.
  const hello = await access.hello("127.0.0.1", refused, 600_000);
  assert.equal(hello, undefined);
  const e = await access.adminCommand("127.0.0.1", refused, { ping: 1 }, 600_000).then(
    () => undefined,
    (e: Error) => e,
  );
  assert.ok(e, "a stopped server answered");
  assert.notEqual(e.name, "MongoServerSelectionError");
  assert.match(`${e.message} ${(e as { cause?: Error }).cause?.message ?? ""}`, /ECONNREFUSED/);
});

Deno.test("a hidden, a delayed and a priority-0 non-voting member show as such, from the set's live configuration", async () => {
  await withDir(async (dir) => {
    const ports = freePorts(4);
    await startReplSet(await simBin("7.0.5"), dir, ports);
    // Reconfigured behind mup's back: only the live configuration says what the members are.
    const { config } = await admin(ports[0], { replSetGetConfig: 1 }) as {
      config: { version: number; members: Record<string, unknown>[] };
    };
    const members = config.members.map((m, i) =>
      i === 1
        ? { ...m, priority: 0, hidden: true }
        : i === 2
        ? { ...m, priority: 0, secondaryDelaySecs: 3600 }
        : i === 3
        ? { ...m, priority: 0, votes: 0 }
        : m
    );
    await admin(ports[0], {
      replSetReconfig: { ...config, version: config.version + 1, members },
    });
    const procs = ports.map((port) => ({
      id: `mongod-localhost-${port}`,
      role: "mongod",
      host: "localhost",
      port,
      replica_set: "rs0",
      config: "",
      pid_file: "",
    }));
    const shown = await waitFor(async () => {
      const found = await probeProcesses(new MongoAccess(), procs, new Map(), 5000);
      // In the order of `ports` (the display sorts by port).
      const rows = ports.map((p) => found.find((r) => r.port === p)!);
      return rows.map(describeState).join("|") ===
          "PRIMARY|SECONDARY (hidden)|SECONDARY (priority 0, delayed 1h)|SECONDARY (priority 0, non-voting)"
        ? rows
        : undefined;
    }, 30_000);
    assert.deepEqual(
      shown.map((r) => [r.hidden, r.priority, r.votes, r.secondary_delay_s]),
      [[false, 2, 1, undefined], [true, 0, 1, undefined], [false, 0, 1, 3600], [
        false,
        0,
        0,
        undefined,
      ]],
    );
    assert.ok(shown.every((r) => r.healthy), "hidden and delayed secondaries are healthy");
    assert.equal(shown[1].state, "SECONDARY", "the state itself stays MongoDB's");
  });
});

Deno.test("the replica_set_healthy safety check waits for a member that settles by itself (RECOVERING in maintenance mode, then SECONDARY) instead of failing at once", async () => {
  await withDir(async (dir) => {
    const ports = freePorts(3);
    await startReplSet(await simBin("7.0.5"), dir, ports);
    const hosts = ports.map((p) => `localhost:${p}`);
    // replSetMaintenance as mongod answers it: only a secondary, and each true needs a false.
    const onPrimary = await adminError(ports[0], { replSetMaintenance: true });
    assert.deepEqual([onPrimary.code, onPrimary.codeName], [95, "NotSecondary"]);
    await admin(ports[2], { replSetMaintenance: true });
    assert.equal(await memberState(ports[2]), "RECOVERING");
    const access = new MongoAccess();
    let settled: CheckOutcome | undefined;
    const outcome = runCheck(
      {
        id: "stop-b:set-healthy",
        description: "every other member is healthy",
        check_type: "replica_set_healthy",
        target: "rs0",
        params: { members: hosts, except: hosts[1] },
        required: true,
      },
      new DefaultExecutors(),
      access,
    ).then((r) => settled = r);
    // Asked while the member is RECOVERING, the check keeps asking rather than failing.
    await new Promise((r) => setTimeout(r, 1500));
    assert.ok(
      settled === undefined,
      `the check ended while a member was RECOVERING: ${settled?.status}`,
    );
    await admin(ports[2], { replSetMaintenance: false });
    const r = await outcome;
    assert.ok(r.ok, r.status);
    const twice = await adminError(ports[2], { replSetMaintenance: false });
    assert.deepEqual([twice.code, twice.message], [96, "already out of maintenance mode"]);
    assert.equal(await memberState(ports[2]), "SECONDARY");
  });
});

Deno.test("a set with an arbiter, access control on: the admin user is made on the primary (the arbiter, which the driver never logs in to, proves nothing), so the stored credentials authenticate and the localhost exception is closed; display shows the arbiter's PID and version", async () => {
  const home = await tempHome();
  const ports = freePorts(3);
  try {
    const text = "mongod_servers:\n" +
      ports.map((p, i) =>
        `  - { host: localhost, port: ${p}, replica_set: rs0${
          i === 2 ? ", arbiter_only: true, priority: 0" : ""
        } }\n`
      ).join("");
    const file = await writeTopology(home, "arb.yaml", text);
    const deployed = await mup(deployArgs("arb", file, await testMirror(), ["--auto-approve"]), {
      home,
    });
    assert.equal(deployed.code, 0, output(deployed));
    // The user was made, not found "already in place" on the arbiter.
    assert.match(deployed.stdout, /✓ Create admin on rs0 \[/, output(deployed));
    const cred = await clusterCredentials(home, "arb");
    const authed = await asAdmin(
      cred,
      `localhost:${ports[0]}`,
      (c) => c.db("admin").command({ connectionStatus: 1 }),
    );
    assert.deepEqual(authed.authInfo.authenticatedUsers, [{ user: "admin", db: "admin" }]);
    const anonymous = await client(
      `mongodb://localhost:${ports[0]}/?directConnection=true`,
      (c) => c.db("admin").command({ createUser: "intruder", pwd: "x", roles: ["root"] }),
    ).catch((e) => e);
    assert.equal(anonymous.code, 13, String(anonymous));
    const shown = await mup(["cluster", "display", "arb", "--json"], { home });
    const doc = JSON.parse(shown.stdout);
    const arbiter = doc.processes.find((r: { port: number }) => r.port === ports[2]);
    assert.equal(arbiter.state, "ARBITER", shown.stdout);
    assert.equal(arbiter.version, "7.0.14", shown.stdout);
    const pid = Number(
      (await Deno.readTextFile(`${home}/storage/clusters/arb/deploy/mongod-${ports[2]}/mongod.pid`))
        .trim(),
    );
    assert.equal(arbiter.pid, pid, shown.stdout);
    assert.equal(arbiter.role, "arbiter", shown.stdout);
    // Stopped, it says nothing of itself: the topology still names it an arbiter.
    const stopped = await mup(
      ["cluster", "stop", "arb", "-N", `localhost:${ports[2]}`, "--auto-approve"],
      { home },
    );
    assert.equal(stopped.code, 0, output(stopped));
    const down = await mup(["cluster", "display", "arb", "--json"], { home });
    const row = JSON.parse(down.stdout).processes.find((r: { port: number }) =>
      r.port === ports[2]
    );
    assert.deepEqual([row.role, row.state], ["arbiter", "DOWN"], down.stdout);
    const table = await mup(["cluster", "display", "arb"], { home });
    assert.match(table.stdout, new RegExp(`localhost:${ports[2]}\\s+arbiter\\s`), table.stdout);
  } finally {
    await killAll(home);
  }
});
