/** Helpers of the issue-11 fault tests: deploys through the CLI on the simulator. */
import assert from "node:assert/strict";
import { deployArgs, mup, testMirror, writeTopology } from "./helpers.ts";
import { type ClientAuth, withClient } from "./apply_helpers.ts";

/** `mup cluster deploy <cluster> <topology text> --auto-approve …extra` in `home`. */
export async function deploy(
  home: string,
  cluster: string,
  text: string,
  extra: string[] = [],
  env: Record<string, string> = {},
) {
  const topo = await writeTopology(home, `${cluster}.yaml`, text);
  return await mup(
    deployArgs(cluster, topo, await testMirror(), ["--auto-approve", ...extra]),
    { home, env },
  );
}

/** A replica set deploy that fails at its third member's start (the simulator crashes there). */
export async function failedReplicaSet(home: string, ports: number[]) {
  const text = `mongod_servers:\n${
    ports.map((p, i) =>
      `  - { host: localhost, port: ${p}, replica_set: rs0${i ? "" : ", priority: 2"} }`
    )
      .join("\n")
  }\n`;
  const r = await deploy(home, "c1", text, [], {
    MUP_SIM_CRASH_AT_STARTUP: "14",
    MUP_SIM_FAULT_PORTS: String(ports[2]),
  });
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(
    r.stdout,
    new RegExp(`Apply failed at phase 2, operation start-mongod-localhost-${ports[2]}`),
  );
  assert.equal(startedShown(r.stdout), 2, `the two members that started are shown:\n${r.stdout}`);
  return text;
}

/** How many started processes the plain progress lines report (`✓ Started 2 …`, `✓ Started mongod …`). */
export function startedShown(stdout: string): number {
  return [...stdout.matchAll(/^ {2}✓ (?:↻ )?Started (\d+ )?/gm)]
    .reduce((n, m) => n + (m[1] ? Number(m[1]) : 1), 0);
}

export async function healthySet(ports: number[], as: ClientAuth) {
  await withClient(
    `mongodb://${ports.map((p) => `localhost:${p}`).join(",")}/?replicaSet=rs0`,
    async (c) => {
      await c.db("app").collection("t").insertOne({ ok: 1 }, { writeConcern: { w: 3 } });
      const st = await c.db("admin").command({ replSetGetStatus: 1 });
      assert.deepEqual(st.members.map((m: { state: number }) => m.state).sort(), [1, 2, 2]);
    },
    as,
  );
}
