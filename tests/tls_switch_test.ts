/**
 * `mup cluster tls <name> enable|disable` on a running, secured cluster: a rolling change
 * (allowTLS → preferTLS → requireTLS, and back through restarts), while a client keeps writing.
 * Real processes through the CLI, the official driver.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import {
  clusterCredentials,
  deployArgs,
  killAll,
  replicaSetTopology,
  tempHome,
  testMirror,
} from "./helpers.ts";
import { clusterDir, meta } from "./apply_helpers.ts";
import { deploy, display, ok, stablePorts, WriteLoad } from "./lifecycle_helpers.ts";
import { client, outcome } from "./security_helpers.ts";
import { deadline, installFixture } from "./fixture.ts";

installFixture();

const direct = (port: number, extra = "") =>
  `mongodb://localhost:${port}/?directConnection=true${extra}`;

/** Whether an authenticated ping reaches `port` with these URI options. */
async function pings(port: number, password: string, extra = ""): Promise<boolean> {
  const r = await outcome(
    direct(port, extra),
    (c) => c.db("admin").command({ ping: 1 }),
    { auth: { username: "admin", password }, authSource: "admin" },
  );
  return r.error === undefined;
}

async function conf(home: string, cluster: string, port: number): Promise<string> {
  return await Deno.readTextFile(
    path.join(clusterDir(home, cluster), "deploy", "conf", `mongod-${port}`, "mongod.conf"),
  );
}

Deno.test("cluster tls enable on a running secured replica set while a client writes: no acknowledged write lost, then only TLS clients trusting the CA connect; a second enable is refused; disable brings plain clients back", async () => {
  const home = await tempHome();
  const ports = stablePorts(3);
  let load: WriteLoad | undefined;
  try {
    await deploy(home, "rs", replicaSetTopology(ports));
    const before = await clusterCredentials(home, "rs");
    assert.doesNotMatch(before.connection_string, /tls=true/);
    load = new WriteLoad(before.connection_string);
    await waitAcked(load, 20);
    const t0 = performance.now();
    const r = await ok(home, ["cluster", "tls", "rs", "enable", "--auto-approve"]);
    const enableMs = performance.now() - t0;
    assert.match(r.stdout, /Create the cluster's certificate authority/);
    assert.match(r.stdout, /Set tlsMode requireTLS/);
    // The apply's last lines give the connection string the cluster now needs.
    assert.match(r.stdout, /Connection: mongosh '[^']*tls=true&tlsCAFile=[^']*ca\.pem'/);
    const acked = load.acked.length;
    await load.stop();
    console.log(
      `enable: ${(enableMs / 1000).toFixed(1)} s; ${acked} writes acknowledged meanwhile, ` +
        `${load.failures} failed attempts, longest gap ${Math.round(load.longestGapMs)} ms`,
    );
    assert.ok(acked > 20, `writes went on during the change (${acked})`);

    const cred = await clusterCredentials(home, "rs");
    assert.match(cred.connection_string, /tls=true&tlsCAFile=\S*ca\.pem/);
    // Every acknowledged write is there, read over TLS as the printed string says.
    const have = await client(cred.connection_string, async (c) =>
      new Set(
        (await c.db("lifecycle").collection("load").find({}, {
          readConcern: { level: "majority" },
        }).toArray()).map((d) => d._id as unknown as number),
      ));
    assert.deepEqual(load.acked.filter((i) => !have.has(i)), [], "no acknowledged write lost");
    const ca = /tlsCAFile=([^&]+)/.exec(cred.connection_string)![1];
    for (const p of ports) {
      assert.ok(!(await pings(p, cred.password)), `${p}: a plain client is refused`);
      assert.ok(!(await pings(p, cred.password, "&tls=true")), `${p}: TLS without the CA fails`);
      assert.ok(await pings(p, cred.password, `&tls=true&tlsCAFile=${ca}`), `${p}: with the CA`);
      assert.match(await conf(home, "rs", p), /mode: requireTLS/);
    }
    assert.equal(recordedTls(await meta(home, "rs")), true);
    // The topology file no longer describes the cluster: repairs are to use show-config's.
    const changed = (await meta(home, "rs")).topology_changed as { by?: string } | undefined;
    assert.equal(changed?.by, "cluster tls");
    const shownOn = await display(home, "rs");
    assert.ok(shownOn.healthy);
    // display says TLS is on, not only through its connection string (tester48).
    assert.deepEqual(shownOn.security, { auth: true, tls: true });
    assert.match(
      (await ok(home, ["cluster", "display", "rs"])).stdout,
      /\nSecurity: access control on, TLS required/,
    );
    // The topology file still says tls: false; a deploy of it names the command instead.
    const redeploy = await ok(
      home,
      deployArgs("rs", path.join(home, "rs.yaml"), await testMirror(), ["--auto-approve"]),
      1,
    );
    assert.match(
      redeploy.stdout + redeploy.stderr,
      /security\.tls on → off: switched on the running cluster by `mup cluster tls rs disable`\n/,
    );

    const again = await ok(home, ["cluster", "tls", "rs", "enable", "--auto-approve"], 1);
    assert.match(again.stderr, /TLS is already enabled on cluster rs/);
    assert.match(again.stderr, /mup cluster tls rs disable/);
    const againJson = await ok(home, ["cluster", "tls", "rs", "enable", "--json"], 1);
    assert.equal(JSON.parse(againJson.stdout).type, "error");

    // A TLS client writes during disable: it is served until members stop speaking TLS (the
    // last round), and nothing it got acknowledged is lost.
    await load.close();
    load = new WriteLoad(cred.connection_string, "load2");
    await waitAcked(load, 20);
    const t1 = performance.now();
    const off = await ok(home, ["cluster", "tls", "rs", "disable", "--auto-approve"]);
    assert.match(off.stdout, /Connection: mongosh '[^']*authSource=admin'\n/);
    const disableMs = performance.now() - t1;
    await load.stop();
    console.log(
      `disable: ${(disableMs / 1000).toFixed(1)} s; a TLS client got ${load.acked.length} ` +
        `writes acknowledged meanwhile (${load.failures} failed attempts)`,
    );
    const after = await clusterCredentials(home, "rs");
    // Read as WriteLoad.missing() does: a primary elected a moment ago (the last round ends in
    // an election) serves majority reads from a commit point that reaches the previous
    // primary's last acknowledged writes once it commits in its own term.
    const ackedOff = load.acked;
    const lost = await client(after.connection_string, async (c) => {
      const end = Date.now() + deadline(10_000);
      for (;;) {
        const kept = new Set(
          (await c.db("lifecycle").collection("load2").find({}, {
            readConcern: { level: "majority" },
          }).toArray()).map((d) => d._id as unknown as number),
        );
        const missing = ackedOff.filter((i) => !kept.has(i));
        if (!missing.length || Date.now() > end) return missing;
        await new Promise((r) => setTimeout(r, 200));
      }
    });
    assert.deepEqual(lost, [], "no acknowledged write lost");
    assert.doesNotMatch(after.connection_string, /tls=/);
    for (const p of ports) {
      assert.ok(await pings(p, after.password), `${p}: a plain client connects again`);
      assert.doesNotMatch(await conf(home, "rs", p), /tls:/);
    }
    await client(after.connection_string, async (c) => {
      await c.db("app").collection("t").insertOne({ plain: true }, {
        writeConcern: { w: "majority" },
      });
    });
    assert.equal(recordedTls(await meta(home, "rs")), false);
    const shownOff = await display(home, "rs");
    assert.ok(shownOff.healthy);
    assert.deepEqual(shownOff.security, { auth: true, tls: false });
    // The certificates and keys nothing reads any more are gone from the host; the keyfile
    // stays (tester111 #1).
    const secrets = path.join(clusterDir(home, "rs"), "deploy", "secrets");
    const left = (await Array.fromAsync(Deno.readDir(secrets))).map((e) => e.name).sort();
    assert.deepEqual(left, ["keyfile"]);
  } finally {
    await load?.close();
    await killAll(home);
  }
});

/** global.security.tls as meta.yaml records it. */
function recordedTls(m: Record<string, unknown>): unknown {
  return (m.topology as { global: { security?: { tls?: boolean } } }).global.security?.tls;
}

async function waitAcked(load: WriteLoad, n: number): Promise<void> {
  const end = Date.now() + 60_000;
  while (load.acked.length < n && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  assert.ok(load.acked.length >= n, "the client writes before the change");
}
