/**
 * The simulator's TLS modes, with the official driver: allowTLS and preferTLS take plain and TLS
 * clients on one port, requireTLS only TLS, disabled only plain; setParameter tlsMode moves
 * allowTLS → preferTLS → requireTLS at runtime and refuses every other change with MongoDB's
 * error; members keep replicating while their modes change (MongoDB docs: "Upgrade a Cluster to
 * Use TLS/SSL").
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { freePorts, installFixture } from "./helpers.ts";
import { client, failure, outcome } from "./security_helpers.ts";
import { makeCa, makeCertificate } from "../lib/security/tls.ts";
import { secretPath } from "../lib/security/secrets.ts";
import { MongoAccess } from "../lib/mongo/client.ts";
import { isTlsHandshake } from "../sim/tls.ts";
import { memberState, simBin, startMongod, waitFor, withDir } from "./sim_helpers.ts";

installFixture();

/** A CA and one certificate (for localhost) made by mup's own openssl code under `dir`. */
async function material(dir: string): Promise<{ ca: string; cert: string }> {
  const before = Deno.env.get("MUP_HOME");
  Deno.env.set("MUP_HOME", path.join(dir, "home"));
  try {
    await makeCa("simtls");
    await makeCertificate("simtls", "secret:cert:p", "localhost");
    return { ca: secretPath("simtls", "secret:ca"), cert: secretPath("simtls", "secret:cert:p") };
  } finally {
    if (before === undefined) Deno.env.delete("MUP_HOME");
    else Deno.env.set("MUP_HOME", before);
  }
}

const tlsArgs = (mode: string, m: { ca: string; cert: string }) => [
  "--tlsMode",
  mode,
  "--tlsCertificateKeyFile",
  m.cert,
  "--tlsCAFile",
  m.ca,
  "--tlsAllowConnectionsWithoutCertificates",
];

const direct = (port: number) =>
  `mongodb://localhost:${port}/?directConnection=true&serverSelectionTimeoutMS=30000`;

/** Whether a ping gets through, plain or with TLS trusting the CA. */
async function reaches(port: number, ca?: string): Promise<boolean> {
  const uri = direct(port) + (ca ? `&tls=true&tlsCAFile=${encodeURIComponent(ca)}` : "");
  return (await outcome(uri, (c) => c.db("admin").command({ ping: 1 }))).error === undefined;
}

async function mode(port: number, ca: string): Promise<string> {
  const uri = direct(port) + `&tls=true&tlsCAFile=${encodeURIComponent(ca)}`;
  return await client(
    uri,
    async (c) => String((await c.db("admin").command({ getParameter: 1, tlsMode: 1 })).tlsMode),
  );
}

async function setMode(port: number, ca: string, to: string): Promise<Record<string, unknown>> {
  const uri = direct(port) + `&tls=true&tlsCAFile=${encodeURIComponent(ca)}`;
  return await client(uri, (c) => c.db("admin").command({ setParameter: 1, tlsMode: to }));
}

async function setModeError(port: number, ca: string, to: string) {
  const uri = direct(port) + `&tls=true&tlsCAFile=${encodeURIComponent(ca)}`;
  return await client(uri, (c) => failure(c.db("admin").command({ setParameter: 1, tlsMode: to })));
}

Deno.test("sim TLS: allowTLS and preferTLS take plain and TLS clients on one port; setParameter tlsMode goes only up, to requireTLS, which refuses plain clients", async () => {
  await withDir(async (dir) => {
    const m = await material(dir);
    const bin = await simBin("7.0.5");
    const [port] = freePorts(1);
    const r = await startMongod(bin, dir, port, tlsArgs("allowTLS", m));
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.ok(await reaches(port), "allowTLS: a plain client connects");
    assert.ok(await reaches(port, m.ca), "allowTLS: a TLS client connects");
    assert.equal(await mode(port, m.ca), "allowTLS");
    const skip = await setModeError(port, m.ca, "requireTLS");
    assert.equal(skip.code, 2);
    assert.equal(
      skip.message,
      "Illegal state transition for tlsMode, attempt to change from allowTLS to requireTLS",
    );
    assert.match(
      (await setModeError(port, m.ca, "sometimes")).message,
      /Invalid tlsMode setting 'sometimes'/,
    );
    assert.equal((await setMode(port, m.ca, "preferTLS")).was, "allowTLS");
    assert.equal(await mode(port, m.ca), "preferTLS");
    assert.ok(await reaches(port), "preferTLS: a plain client connects");
    assert.ok(await reaches(port, m.ca), "preferTLS: a TLS client connects");
    // The same mode again is no transition either (so a caller must look before it sets).
    assert.match(
      (await setModeError(port, m.ca, "preferTLS")).message,
      /from preferTLS to preferTLS/,
    );
    assert.equal((await setMode(port, m.ca, "requireTLS")).was, "preferTLS");
    assert.ok(!(await reaches(port)), "requireTLS: a plain client is refused");
    assert.ok(await reaches(port, m.ca), "requireTLS: a TLS client connects");
    assert.match(
      (await setModeError(port, m.ca, "allowTLS")).message,
      /from requireTLS to allowTLS/,
    );
    // Without the CA the driver refuses the server's certificate.
    const noCa = await outcome(
      direct(port) + "&tls=true",
      (c) => c.db("admin").command({ ping: 1 }),
    );
    assert.match(String(noCa.error?.message), /certificate|self[- ]signed/i);
  });
});

Deno.test("sim TLS: a server without TLS refuses a TLS handshake at once and cannot be switched at runtime", async () => {
  await withDir(async (dir) => {
    const m = await material(dir);
    const bin = await simBin("7.0.5");
    const [port] = freePorts(1);
    const r = await startMongod(bin, dir, port);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.ok(await reaches(port));
    assert.ok(!(await reaches(port, m.ca)), "disabled: a TLS client is refused");
    const e = await client(
      direct(port),
      (c) => failure(c.db("admin").command({ setParameter: 1, tlsMode: "preferTLS" })),
    );
    assert.equal(
      e.message,
      "Illegal state transition for tlsMode, attempt to change from disabled to preferTLS",
    );
    const log = await Deno.readTextFile(path.join(dir, String(port), "log"));
    assert.match(log, /SSL handshake received but server is started without SSL support/);
  });
});

Deno.test("sim TLS: a replica set moves from plain to requireTLS member by member and keeps replicating; members connect to each other over TLS once they prefer it", async () => {
  await withDir(async (dir) => {
    const m = await material(dir);
    const bin = await simBin("7.0.5");
    const ports = freePorts(3);
    for (const p of ports) {
      const r = await startMongod(bin, dir, p, ["--replSet", "rs0", ...tlsArgs("allowTLS", m)]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
    }
    await client(direct(ports[0]), (c) =>
      c.db("admin").command({
        replSetInitiate: {
          _id: "rs0",
          members: ports.map((p, i) => ({
            _id: i,
            host: `localhost:${p}`,
            priority: i === 0 ? 2 : 1,
          })),
        },
      }));
    for (const p of ports.slice(1)) {
      await waitFor(async () => (await memberState(p)) === "SECONDARY" || undefined, 30_000);
    }
    const rs = `mongodb://${ports.map((p) => `localhost:${p}`).join(",")}/?replicaSet=rs0`;
    const write = (uri: string, n: number) =>
      client(
        uri,
        (c) =>
          c.db("app").collection("t").insertOne({ n }, {
            writeConcern: { w: 3, wtimeoutMS: 20_000 },
          }),
      );
    await write(rs, 1);
    for (const p of ports) await setMode(p, m.ca, "preferTLS");
    for (const p of ports) await setMode(p, m.ca, "requireTLS");
    const tlsRs = `${rs}&tls=true&tlsCAFile=${encodeURIComponent(m.ca)}`;
    await write(tlsRs, 2);
    // A member restarted under requireTLS accepts only TLS: the others reach it (and it them)
    // only because they connect over TLS now; it comes back, catches up and takes writes.
    const last = ports[2];
    Deno.kill(
      Number(Deno.readTextFileSync(path.join(dir, String(last), "mongod.pid")).trim()),
      "SIGTERM",
    );
    await waitFor(async () => !(await reaches(last, m.ca)) || undefined, 20_000);
    const r = await startMongod(bin, dir, last, ["--replSet", "rs0", ...tlsArgs("requireTLS", m)]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.ok(!(await reaches(last)), "the restarted member refuses plain clients");
    await write(tlsRs, 3);
    const onLast = await client(
      direct(last) + `&tls=true&tlsCAFile=${encodeURIComponent(m.ca)}`,
      (c) =>
        c.db("app").collection("t").countDocuments({}, { readPreference: "secondaryPreferred" }),
    );
    assert.equal(onLast, 3);
  });
});

Deno.test("MongoAccess with the cluster CA reaches a server in every TLS mode (TLS where it is spoken, plain elsewhere) and names a refused certificate", async () => {
  await withDir(async (dir) => {
    const m = await material(dir);
    const bin = await simBin("7.0.5");
    const ports = freePorts(4);
    const modes = ["disabled", "allowTLS", "preferTLS", "requireTLS"];
    for (const [i, p] of ports.entries()) {
      const r = await startMongod(bin, dir, p, i === 0 ? [] : tlsArgs(modes[i], m));
      assert.equal(r.code, 0, r.stdout + r.stderr);
    }
    const access = new MongoAccess({ caFile: () => Promise.resolve(m.ca) });
    for (const [i, p] of ports.entries()) {
      assert.equal((await access.adminCommand("localhost", p, { ping: 1 })).ok, 1, modes[i]);
      // requireTLS is reached only over TLS, disabled only in plain: one client reaches both.
      const r = await access.adminCommand("localhost", p, { getParameter: 1, tlsMode: 1 });
      assert.equal(r.tlsMode, modes[i]);
    }
    // A CA that did not sign the server's certificate: the error says so.
    const other = await material(path.join(dir, "other"));
    const wrong = new MongoAccess({ caFile: () => Promise.resolve(other.ca) });
    const e = await failure(wrong.adminCommand("localhost", ports[3], { ping: 1 }, 2000));
    assert.match(
      e.message,
      /a TLS handshake trusting the cluster CA failed: .*(certificate|issuer)/i,
    );
  });
});

Deno.test("sim TLS: a wire message whose length starts like a TLS record (790 bytes) is not taken for a handshake", () => {
  const msg = new Uint8Array(790);
  const v = new DataView(msg.buffer);
  v.setInt32(0, 790, true); // 0x16 0x03 0x00 0x00
  v.setInt32(4, 7, true);
  v.setInt32(12, 2013, true); // OP_MSG
  assert.deepEqual([...msg.subarray(0, 2)], [0x16, 0x03]);
  assert.equal(isTlsHandshake(msg), false);
  // A ClientHello: record header, handshake type 1, then random bytes.
  const hello = new Uint8Array([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]);
  const full = new Uint8Array(64);
  full.set(hello);
  crypto.getRandomValues(full.subarray(11));
  assert.equal(isTlsHandshake(full), true);
});
