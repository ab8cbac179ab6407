/**
 * `cluster tls enable` after the CA's key was lost (tester33): the CA is made again, and with it
 * every process's certificate (one of the old CA is not the cluster's), so that clients trusting
 * the new CA reach every member; the final health check connects anew rather than through a
 * connection opened before requireTLS, which would answer where no new client can.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import {
  clusterCredentials,
  deployArgs,
  killAll,
  mup,
  replicaSetTopology,
  tempHome,
  testMirror,
} from "./helpers.ts";
import { clusterDir } from "./apply_helpers.ts";
import { deploy, display, killMember, ok, stablePorts } from "./lifecycle_helpers.ts";
import { outcome, selfSigned } from "./security_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

Deno.test("cluster tls enable with the CA's key gone: a new CA signs every certificate again, and clients trusting it reach every member (tester33)", async () => {
  const home = await tempHome();
  const ports = stablePorts(3);
  try {
    await deploy(home, "rs", replicaSetTopology(ports));
    await ok(home, ["cluster", "tls", "rs", "enable", "--auto-approve"]);
    const secrets = path.join(clusterDir(home, "rs"), "secrets");
    const oldCa = await Deno.readTextFile(path.join(secrets, "ca.pem"));
    const recorded = path.join(home, "recorded.yaml");
    await Deno.writeTextFile(recorded, (await ok(home, ["cluster", "show-config", "rs"])).stdout);
    // A certificate gone from the store is a change a repair makes (signed again), not "No
    // changes" (tester34).
    const cert = path.join(secrets, "certs", `mongod-localhost-${ports[1]}.pem`);
    await Deno.remove(cert);
    const resigned = await ok(
      home,
      deployArgs("rs", recorded, await testMirror(), ["--auto-approve"]),
    );
    assert.doesNotMatch(resigned.stdout, /No changes/);
    await Deno.stat(cert);
    await Deno.remove(path.join(secrets, "ca.key"));
    // A repair signs nothing while every certificate is the CA's: not refused for the key.
    const repair = await ok(
      home,
      deployArgs("rs", recorded, await testMirror(), ["--auto-approve"]),
    );
    assert.match(repair.stdout, /No changes/);
    // Nor when it starts a member that died: the CA is there, only its key is not.
    await killMember(home, "rs", ports[2]);
    const restarted = await ok(
      home,
      deployArgs("rs", recorded, await testMirror(), ["--auto-approve"]),
    );
    assert.match(
      restarted.stdout,
      /Create the cluster's certificate authority \(openssl\) \(already in place\)/,
    );
    assert.ok((await display(home, "rs")).healthy);
    await ok(home, ["cluster", "tls", "rs", "disable", "--auto-approve"]);

    await ok(home, ["cluster", "tls", "rs", "enable", "--auto-approve"]);
    assert.notEqual(await Deno.readTextFile(path.join(secrets, "ca.pem")), oldCa, "a new CA");
    for (const e of await Array.fromAsync(Deno.readDir(path.join(secrets, "certs")))) {
      const v = await new Deno.Command("openssl", {
        args: [
          "verify",
          "-CAfile",
          path.join(secrets, "ca.pem"),
          path.join(secrets, "certs", e.name),
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(
        v.code,
        0,
        `${e.name} is signed by the new CA: ${new TextDecoder().decode(v.stderr)}`,
      );
    }
    const cred = await clusterCredentials(home, "rs");
    const ca = /tlsCAFile=([^&]+)/.exec(cred.connection_string)![1];
    for (const p of ports) {
      const r = await outcome(
        `mongodb://localhost:${p}/?directConnection=true&tls=true&tlsCAFile=${ca}`,
        (c) => c.db("admin").command({ ping: 1 }),
        { auth: { username: cred.user, password: cred.password }, authSource: "admin" },
      );
      assert.equal(r.error, undefined, `${p}: ${r.error?.message}`);
    }
    assert.ok((await display(home, "rs")).healthy);

    // The store's CA replaced by hand by another: mup cannot trust its members any more.
    // display says so, and that no wait or restart mends it (not "hung or busy"). (A start
    // refuses at planning: the CA on the host is not the one installed.)
    const caPath = path.join(secrets, "ca.pem");
    const ours = await Deno.readTextFile(caPath);
    await Deno.writeTextFile(caPath, (await selfSigned("/CN=another CA")).cert);
    const shown = await mup(["cluster", "display", "rs"], { home });
    await Deno.writeTextFile(caPath, ours);
    assert.match(
      shown.stdout.replace(/\s+/g, " "),
      /its TLS certificate cannot be checked \(see below\); .*mup cannot ask it while its store's CA or admin credentials are missing or replaced \(see below\): no stop or start mends that/,
    );
    // Not blamed on the member's certificate: the store's CA is the cause (tester37).
    assert.doesNotMatch(shown.stdout, /hung or busy|not one the cluster's CA signed/);
    // The CA put back, every member is trusted again.
    assert.ok((await display(home, "rs")).healthy);
  } finally {
    await killAll(home);
  }
});
