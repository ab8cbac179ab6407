/**
 * A TLS member's certificate replaced, in mup's store and on its host alike, by one the
 * cluster's CA did not sign (tester34 M4): a restart is refused before it stops anything, since
 * the member would come back on a certificate its set and its clients refuse; the repair it
 * names signs the certificate again, and the restart then brings every member back healthy. A
 * start planned before such a replacement and applied after it fails at once, saying why.
 * Replaced in the store only (tester36 M3), the store's copy is the one blamed, and the repair
 * asks for no restart of a member that runs on the CA's.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import {
  deployArgs,
  killAll,
  mup,
  output,
  replicaSetTopology,
  tempHome,
  testMirror,
} from "./helpers.ts";
import { clusterDir } from "./apply_helpers.ts";
import {
  deploy,
  display,
  installedMongod,
  livePids,
  ok,
  portFree,
  stablePorts,
} from "./lifecycle_helpers.ts";
import { runBin } from "./sim_helpers.ts";
import { installFixture } from "./fixture.ts";
import { selfSigned, signedFor } from "./security_helpers.ts";

installFixture();

/**
 * A TLS replica set `rs` of three on `ports`: its second member's ID and address, the cluster's
 * directory, that member's certificate in mup's store and on its host, and the repair's
 * arguments (the recorded topology deployed again).
 */
async function tlsSet(home: string, ports: number[]) {
  await deploy(home, "rs", replicaSetTopology(ports));
  await ok(home, ["cluster", "tls", "rs", "enable", "--auto-approve"]);
  const id = `mongod-localhost-${ports[1]}`;
  const dir = clusterDir(home, "rs");
  const recorded = path.join(home, "recorded.yaml");
  await Deno.writeTextFile(recorded, (await ok(home, ["cluster", "show-config", "rs"])).stdout);
  return {
    id,
    member: `localhost:${ports[1]}`,
    dir,
    stored: path.join(dir, "secrets", "certs", `${id}.pem`),
    onHost: path.join(dir, "deploy", "secrets", `${id}.pem`),
    repair: deployArgs("rs", recorded, await testMirror(), ["--auto-approve"]),
  };
}

/** `text` written over each of `files` (read-only, 0400, as mup installs them). */
async function overwrite(files: string[], text: string): Promise<void> {
  for (const f of files) {
    await Deno.chmod(f, 0o600);
    await Deno.writeTextFile(f, text);
    await Deno.chmod(f, 0o400);
  }
}

Deno.test("a restart whose member's certificate (store and host alike) the cluster's CA did not sign is refused before any stop; the repair it names signs it again (tester34 M4)", async () => {
  const home = await tempHome();
  const ports = stablePorts(3);
  try {
    const { id, member, dir, stored, onHost, repair } = await tlsSet(home, ports);
    const { cert, key } = await selfSigned("/CN=localhost");
    const foreign = cert + key;
    await overwrite([stored, onHost], foreign);
    const pids = await livePids(home, "rs");

    const refused = await mup(["cluster", "restart", "rs", "--auto-approve"], { home });
    assert.equal(refused.code, 1, output(refused));
    const said = refused.stdout + refused.stderr;
    assert.match(
      said.replace(/\s+/g, " "),
      new RegExp(
        `the TLS certificate of ${id} in mup's store \\(${stored}\\), the one its host must ` +
          "hold, does not verify against the cluster's CA \\([^)]+ca\\.pem\\): self-signed certificate\\. " +
          "Started on it, the member would present a certificate its replica set and its " +
          "clients refuse\\. Sign it again with `[^`]*mup cluster deploy rs [^`]+` \\(a repair\\)",
      ),
    );
    assert.deepEqual(await livePids(home, "rs"), pids, "nothing was stopped");

    // Another member's certificate replaced on its host only, and the hosts' CA certificate.
    const otherId = `mongod-localhost-${ports[2]}`;
    const otherOnHost = path.join(dir, "deploy", "secrets", `${otherId}.pem`);
    const caOnHost = path.join(dir, "deploy", "secrets", "ca.pem");
    await overwrite([otherOnHost], foreign);
    await overwrite([caOnHost], cert);
    // The repair the message names, then the restart: every member back on the CA's.
    const repaired = await ok(home, repair);
    // Its review lists the signing and the installation, saying why (tester35).
    assert.match(
      repaired.stdout,
      new RegExp(
        `Create the TLS certificate of ${id} again: the store's does not verify against the ` +
          "cluster's CA",
      ),
    );
    assert.match(repaired.stdout, new RegExp(`Install the TLS certificate of ${id} again`));
    // Both members answer on the certificates the CA signed for them, which they read before
    // their files were replaced: their own certificates need no restart (tester37). The CA
    // certificate, which a member checks its peers against, is named with the members on its
    // host, by their own restart (-N), not the whole set's `--force` a keyfile needs
    // (tester34 L1).
    const review = repaired.stdout.replace(/\s+/g, " ");
    assert.ok(
      review.includes(
        `${caOnHost} is not the cluster's: the repair writes the cluster's back, but a running ` +
          "member keeps the certificate it read when it started (the other one, if started " +
          "since the change), and the repair does not restart running members: `mup cluster " +
          `restart rs${ports.map((p) => ` -N localhost:${p}`).join("")}\` after it makes them ` +
          "read the file written back",
      ),
      repaired.stdout,
    );
    for (const f of [onHost, otherOnHost]) {
      assert.ok(
        !review.includes(`${f} is not the cluster's: the repair writes`) &&
          !review.includes(`${f}, `),
        repaired.stdout,
      );
    }
    assert.doesNotMatch(repaired.stdout, /--force/);
    assert.notEqual(await Deno.readTextFile(onHost), foreign, "the host has a certificate again");
    await ok(home, ["cluster", "restart", "rs", "--auto-approve"]);
    assert.ok((await display(home, "rs")).healthy);

    // A start planned before the certificate was replaced (store and host alike) and applied
    // after: stopped at the start's own check, nothing started (tester37 M2).
    await ok(home, ["cluster", "stop", "rs", "-N", member, "--auto-approve"]);
    await ok(home, ["cluster", "start", "rs", "-N", member, "--plan-only"]);
    await overwrite([stored, onHost], foreign);
    const applied = await mup(["plan", "apply", "rs", "--auto-approve"], { home });
    assert.equal(applied.code, 1, output(applied));
    assert.match(
      output(applied).replace(/\s+/g, " "),
      new RegExp(
        `TLS certificate localhost:${onHost} of ${id} is not the one mup installed ` +
          "\\(sha256 [0-9a-f]+…\\): started, it would run on it",
      ),
    );
    assert.ok(portFree(ports[1]), "nothing was started");
    // Started by hand on that certificate anyway: the resumed start finds it running, and its
    // wait ends at once, saying why, not "busy or hung" at its timeout (tester34 M5).
    const deployDir = path.join(dir, "deploy");
    const conf = path.join(deployDir, "conf", `mongod-${ports[1]}`, "mongod.conf");
    const byHand = await runBin(await installedMongod(deployDir), ["-f", conf]);
    assert.equal(byHand.code, 0, output(byHand));
    const resumed = await mup(["plan", "resume", "rs", "--auto-approve"], { home });
    assert.equal(resumed.code, 1, output(resumed));
    assert.match(
      output(resumed).replace(/\s+/g, " "),
      new RegExp(
        `${member} speaks TLS with a certificate the cluster's CA \\(ca\\.pem in mup's secrets ` +
          "store\\) did not sign for it \\(.*\\): no wait or resume mends that",
      ),
    );
    assert.doesNotMatch(output(resumed), /busy or hung|--wait-timeout/);
    // display names the cause and the way: the repair, which restarts that member itself.
    const shown = await mup(["cluster", "display", "rs"], { home });
    assert.match(
      shown.stdout.replace(/\s+/g, " "),
      new RegExp(
        `${member} DOWN: its TLS certificate is not one the cluster's CA signed for it \\(.*\\); ` +
          `.*no wait or restart on it mends that\\. A repair \\(\`[^\`]*mup cluster deploy rs ` +
          `[^\`]+\`\\) signs it again, installs it and restarts the member on it`,
      ),
    );
    assert.doesNotMatch(shown.stdout, /cluster restart rs -N/);
    // That repair stops the member on the foreign certificate and starts it on the one it
    // signs, rather than reviewing a Start of a running member and failing at its wait
    // (tester35 M2).
    const mended = await ok(home, repair);
    assert.match(
      mended.stdout.replace(/\s+/g, " "),
      new RegExp(
        `Stop rs0 member ${member}: it runs on a TLS certificate the cluster's CA did not sign ` +
          "for it \\(.*\\), which its replica set and its clients refuse",
      ),
    );
    assert.match(mended.stdout, /on the certificate this repair installs/);
    // It restarts that member itself: no restart of it is asked for.
    assert.doesNotMatch(mended.stdout, /cluster restart rs -N/);
    // The review reads in the plan's order: the signing before the installation, the stop
    // before the start.
    const at = (re: RegExp) => mended.stdout.search(re);
    assert.ok(
      at(new RegExp(`Create the TLS certificate of ${id} again`)) <
        at(new RegExp(`Install the TLS certificate of ${id} again`)),
    );
    assert.ok(
      at(new RegExp(`Stop rs0 member ${member}`)) < at(new RegExp(`Start rs0 member ${member}`)),
    );
    assert.ok((await display(home, "rs")).healthy);
  } finally {
    await killAll(home);
  }
});

Deno.test("a member's certificate replaced in mup's store only: a restart is refused for the store's copy, not its host's; the repair signs it again without asking for a restart of the member, which runs on the CA's (tester36 M3)", async () => {
  const home = await tempHome();
  const ports = stablePorts(3);
  try {
    const { id, member, stored, onHost, repair } = await tlsSet(home, ports);
    const hostBefore = await Deno.readTextFile(onHost);
    const { cert, key } = await selfSigned("/CN=localhost");
    await overwrite([stored], cert + key);
    const pids = await livePids(home, "rs");

    const refused = await mup(["cluster", "restart", "rs", "--auto-approve"], { home });
    assert.equal(refused.code, 1, output(refused));
    const said = (refused.stdout + refused.stderr).replace(/\s+/g, " ");
    assert.match(said, new RegExp(`the TLS certificate of ${id} in mup's store`));
    // The host's copy is the CA's: it is not the file to blame.
    assert.doesNotMatch(said, /is not the one mup installed/);
    assert.deepEqual(await livePids(home, "rs"), pids, "nothing was stopped");
    // display runs healthy members, and notes the store's copy a restart would refuse.
    const shown = await mup(["cluster", "display", "rs"], { home });
    assert.equal(shown.code, 0, output(shown));
    assert.match(
      shown.stdout.replace(/\s+/g, " "),
      new RegExp(`Note: the TLS certificate of ${id} in mup's store \\(${stored}\\)`),
    );

    const repaired = await ok(home, repair);
    assert.match(
      repaired.stdout,
      new RegExp(
        `Install the TLS certificate of ${id} again: the store's does not verify against the ` +
          "cluster's CA",
      ),
    );
    assert.doesNotMatch(repaired.stdout, /not the cluster's|cluster restart rs -N/);
    const hostAfter = await Deno.readTextFile(onHost);
    assert.notEqual(hostAfter, hostBefore, "the host holds the newly signed certificate");
    assert.equal(await Deno.readTextFile(stored), hostAfter, "the store holds it too");
    // The member reads the new certificate at its next start, and its set takes it.
    await ok(home, ["cluster", "restart", "rs", "-N", member, "--auto-approve"]);
    assert.ok((await display(home, "rs")).healthy);
  } finally {
    await killAll(home);
  }
});

Deno.test("a member's certificate replaced by one of the cluster's CA for another host: a restart is refused before any stop, naming the host it does not name; the repair signs it again and the member restarts on it (tester37 HIGH)", async () => {
  const home = await tempHome();
  const ports = stablePorts(3);
  try {
    const { id, member, dir, stored, onHost, repair } = await tlsSet(home, ports);
    const secrets = path.join(dir, "secrets");
    const other = await signedFor(
      "db9.example.net",
      path.join(secrets, "ca.pem"),
      path.join(secrets, "ca.key"),
    );
    await overwrite([stored, onHost], other.cert + other.key);
    const pids = await livePids(home, "rs");
    const refused = await mup(["cluster", "restart", "rs", "--auto-approve"], { home });
    assert.equal(refused.code, 1, output(refused));
    assert.match(
      output(refused).replace(/\s+/g, " "),
      new RegExp(
        `the TLS certificate of ${id} in mup's store \\(${stored}\\), the one its host must ` +
          "hold, is signed by the cluster's CA but for another host: it does not name " +
          "localhost \\(openssl: hostname mismatch\\)\\. Started on it, the member would present",
      ),
    );
    assert.deepEqual(await livePids(home, "rs"), pids, "nothing was stopped");

    const repaired = await ok(home, repair);
    assert.match(
      repaired.stdout,
      new RegExp(`Create the TLS certificate of ${id} again: the store's does not name its host`),
    );
    assert.notEqual(await Deno.readTextFile(onHost), other.cert + other.key);
    await ok(home, ["cluster", "restart", "rs", "-N", member, "--auto-approve"]);
    assert.ok((await display(home, "rs")).healthy);
  } finally {
    await killAll(home);
  }
});
