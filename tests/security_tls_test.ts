/**
 * TLS (global.security.tls): mup makes a cluster CA and a certificate per process with openssl,
 * installs them with mode 0400, configures requireTLS, and connects with its CA; a client without
 * TLS or without the CA cannot connect, one with the CA (and the credentials) can.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import {
  clusterCredentials,
  deployArgs,
  killAll,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { clusterDir } from "./apply_helpers.ts";
import { display, livePids, ok, stablePorts } from "./lifecycle_helpers.ts";
import { client, outcome } from "./security_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

Deno.test("TLS: a replica set with tls: true serves only TLS clients that trust the cluster CA; display, stop, start and destroy work over TLS", async () => {
  const home = await tempHome();
  try {
    const ports = stablePorts(2);
    const topo = await writeTopology(
      home,
      "tls.yaml",
      `global:\n  security: { tls: true }\nmongod_servers:\n` +
        `  - { host: localhost, port: ${ports[0]}, replica_set: rs0, priority: 2 }\n` +
        `  - { host: localhost, port: ${ports[1]}, replica_set: rs0 }\n`,
    );
    const r = await ok(home, deployArgs("t", topo, await testMirror(), ["--auto-approve"]));
    assert.match(r.stdout, /Create the cluster's certificate authority/);
    // The printed connection string names the CA, so it works as printed (with the password).
    assert.match(r.stdout, /tls=true&tlsCAFile=\S*ca\.pem/);
    const hostSecrets = path.join(clusterDir(home, "t"), "deploy", "secrets");
    for (const f of ["ca.pem", `mongod-localhost-${ports[0]}.pem`, "keyfile"]) {
      assert.equal((await Deno.stat(path.join(hostSecrets, f))).mode! & 0o777, 0o400, f);
    }
    const conf = await Deno.readTextFile(
      path.join(clusterDir(home, "t"), "deploy", "conf", `mongod-${ports[0]}`, "mongod.conf"),
    );
    assert.match(conf, /mode: requireTLS/);
    assert.match(conf, /certificateKeyFile: .*mongod-localhost-\d+\.pem/);
    const cred = await clusterCredentials(home, "t");
    assert.match(cred.connection_string, /tls=true&tlsCAFile=/);
    const direct = `mongodb://localhost:${ports[0]}/?directConnection=true`;
    // Without TLS the server drops the connection; with TLS but without the CA the driver
    // refuses the server's certificate.
    const plain = await outcome(direct, (c) => c.db("admin").command({ ping: 1 }));
    assert.ok(plain.error, "a client without TLS cannot connect");
    const noCa = await outcome(`${direct}&tls=true`, (c) => c.db("admin").command({ ping: 1 }));
    assert.match(String(noCa.error?.message), /certificate|self[- ]signed/i);
    await client(cred.connection_string, async (c) => {
      await c.db("app").collection("t").insertOne({ tls: true }, {
        writeConcern: { w: "majority" },
      });
      assert.equal((await c.db("app").collection("t").findOne({}))?.tls, true);
    });
    assert.ok((await display(home, "t")).healthy, "display reaches every member over TLS");
    await ok(home, ["cluster", "stop", "t", "--auto-approve"]);
    assert.deepEqual(await livePids(home, "t"), []);
    await ok(home, ["cluster", "start", "t", "--auto-approve"]);
    assert.ok((await display(home, "t")).healthy);
    await ok(home, ["cluster", "destroy", "t", "--auto-approve"]);
    assert.ok(!(await Deno.stat(hostSecrets).then(() => true, () => false)));
  } finally {
    await killAll(home);
  }
});
