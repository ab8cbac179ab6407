/**
 * The cluster CA's files in mup's store, lost or mismatched, on a running TLS cluster: a plan
 * that must talk to the members is refused, naming the file and a way back that works when
 * pasted (tester34 H1, M2): `ca.pem` alone gone gives the `cp` from the hosts' copy; a `ca.pem`
 * that is not the certificate of the `ca.key` beside it (one of the pair replaced) is refused
 * before a repair could install it on the hosts over the right one.
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
import { deploy, display, ok, stablePorts } from "./lifecycle_helpers.ts";
import { installFixture } from "./fixture.ts";
import { selfSigned } from "./security_helpers.ts";

installFixture();

/** The one backquoted shell command in `text` that starts with `cp `. */
function pastedCp(text: string): string {
  const cmd = /`(cp [^`]+)`/.exec(text.replace(/\s+/g, " "))?.[1];
  assert.ok(cmd, `no cp offered: ${text}`);
  return cmd;
}

Deno.test("a TLS cluster's ca.pem lost or not its key's certificate: plans are refused; the cp the refusal gives, pasted, brings it back (tester34 H1, M2)", async () => {
  const home = await tempHome();
  const ports = stablePorts(3);
  try {
    await deploy(home, "rs", replicaSetTopology(ports));
    await ok(home, ["cluster", "tls", "rs", "enable", "--auto-approve"]);
    const secrets = path.join(clusterDir(home, "rs"), "secrets");
    const caPem = path.join(secrets, "ca.pem");
    const hostsCopy = path.join(clusterDir(home, "rs"), "deploy", "secrets", "ca.pem");
    const ours = await Deno.readTextFile(caPem);

    // ca.pem gone (its key kept): only ca.pem is asked for, with the cp from the hosts' copy.
    await Deno.remove(caPem);
    const lost = await mup(["cluster", "restart", "rs", "--dry-run"], { home });
    assert.equal(lost.code, 1, output(lost));
    const said = output(lost).replace(/\s+/g, " ");
    assert.match(said, /the cluster's CA is missing from mup's store/);
    // The servers are not blamed for what mup could not ask them without it.
    assert.doesNotMatch(said, /runs but|did not answer/);
    assert.match(said, /Put ca\.pem back from a backup of \$MUP_HOME, or the certificate/);
    assert.doesNotMatch(said, /and ca\.key back/);
    // A stop goes ahead without it, but says first that a start is refused until it is back.
    const stop = await mup(["cluster", "stop", "rs", "--dry-run"], { home });
    assert.equal(stop.code, 0, output(stop));
    assert.match(
      stop.stdout.replace(/\s+/g, " "),
      /the cluster's CA is missing from mup's store .* This stop does not need it .* `mup cluster start rs` is refused until it is back/,
    );
    // display: the members are not called hung, nor given a stop and start (tester36).
    const shown = await mup(["cluster", "display", "rs"], { home });
    assert.match(
      shown.stdout.replace(/\s+/g, " "),
      /mup cannot ask it while its store's CA or admin credentials are missing or replaced/,
    );
    assert.doesNotMatch(shown.stdout, /hung or busy|cluster stop rs -N/);
    // Running, as far as mup can tell: UNKNOWN with its PID, not DOWN (tester39).
    const asJson = await display(home, "rs", 1);
    for (const p of asJson.processes) {
      assert.equal(p.state, "UNKNOWN", JSON.stringify(p));
      assert.ok(p.pid && p.pid > 0, JSON.stringify(p));
    }
    // credentials still gives the password, and says the connection string's CA file is gone
    // and how to put it back (tester37), in --json too.
    const cred = await ok(home, ["cluster", "credentials", "rs"]);
    assert.match(
      cred.stdout.replace(/\s+/g, " "),
      /Note: the connection string's tlsCAFile is mup's store's ca\.pem: the cluster's CA is missing from mup's store .* Put ca\.pem back/,
    );
    const credJson = JSON.parse(
      (await ok(home, ["cluster", "credentials", "rs", "--json"])).stdout,
    );
    assert.ok(credJson.password, "the password is still given");
    assert.match(credJson.warnings?.[0] ?? "", /the cluster's CA is missing from mup's store/);
    // A repair is refused for the CA, and its review does not call every certificate one to
    // sign again: without the CA none can be judged (tester39).
    const recordedNow = path.join(home, "recorded-now.yaml");
    await Deno.writeTextFile(
      recordedNow,
      (await ok(home, ["cluster", "show-config", "rs"])).stdout,
    );
    const noCaRepair = await mup(
      deployArgs("rs", recordedNow, await testMirror(), ["--dry-run"]),
      { home },
    );
    assert.equal(noCaRepair.code, 1, output(noCaRepair));
    assert.match(output(noCaRepair), /the cluster's CA is missing from mup's store/);
    assert.doesNotMatch(output(noCaRepair), /Create the TLS certificate of \S+ again/);
    const cp = pastedCp(said);
    assert.ok(cp.includes(hostsCopy), cp);
    const pasted = await new Deno.Command("sh", { args: ["-c", cp], stderr: "piped" }).output();
    assert.equal(pasted.code, 0, new TextDecoder().decode(pasted.stderr));
    assert.equal(await Deno.readTextFile(caPem), ours);
    assert.equal((await Deno.stat(caPem)).mode! & 0o777, 0o600);
    assert.ok((await display(home, "rs")).healthy);
    const restored = await ok(home, ["cluster", "credentials", "rs"]);
    assert.doesNotMatch(restored.stdout, /Note:/);

    // ca.pem replaced by another CA's certificate (ca.key kept): refused, naming the pair, and
    // neither the store nor the hosts' copy is touched.
    const foreign = (await selfSigned("/CN=another CA")).cert;
    await Deno.writeTextFile(caPem, foreign);
    // An upgrade too: it is refused for the CA, not for an FCV mup could not read (tester36 M4).
    const mirror = await testMirror();
    const upgrade = ["cluster", "upgrade", "rs", "--version", "8.0", "--mirror", mirror];
    for (
      const args of [
        ["cluster", "restart", "rs", "--dry-run"],
        ["cluster", "start", "rs"],
        [...upgrade, "--dry-run"],
      ]
    ) {
      const r = await mup(args, { home });
      assert.equal(r.code, 1, output(r));
      assert.match(
        output(r).replace(/\s+/g, " "),
        new RegExp(
          `the cluster's CA certificate \\(${caPem}\\) is not the certificate of the key ` +
            `beside it \\(${path.join(secrets, "ca.key")}\\): one of them was replaced\\. Put ` +
            `the pair back from a backup of \\$MUP_HOME \\(the hosts keep a copy of the ` +
            `certificate: ${hostsCopy}\\)`,
        ),
      );
      // Nothing else is measured against a CA that is not the cluster's (tester35).
      assert.doesNotMatch(
        output(r),
        /not the one mup installed|verify against|runs but|could not be read/,
      );
    }
    assert.equal(await Deno.readTextFile(hostsCopy), ours, "the hosts' copy is untouched");
    await Deno.writeTextFile(caPem, ours);
    assert.ok((await display(home, "rs")).healthy);

    // Both of the pair replaced by another CA's (tester36 HIGH): a repair would install that CA
    // on the hosts and sign every certificate with it. Refused; the hosts' ca.pem is kept, and
    // the way without a backup, followed, leaves a cluster mup reaches again.
    const caKey = path.join(secrets, "ca.key");
    const other = await selfSigned("/CN=another CA");
    await Deno.writeTextFile(caPem, other.cert);
    await Deno.writeTextFile(caKey, other.key);
    // A restart and display give that cause alone, not every member's certificate (tester37).
    const replacedSaid = new RegExp(
      "the CA in mup's store is not the cluster's: none of its processes' certificates there " +
        `verifies against it, and the hosts' ${hostsCopy} is another one`,
    );
    const restart = await mup(["cluster", "restart", "rs", "--dry-run"], { home });
    assert.equal(restart.code, 1, output(restart));
    assert.match(output(restart).replace(/\s+/g, " "), replacedSaid);
    assert.doesNotMatch(output(restart), /Sign it again|Install it again|neither primary/);
    const shownReplaced = await mup(["cluster", "display", "rs"], { home });
    assert.match(shownReplaced.stdout.replace(/\s+/g, " "), replacedSaid);
    assert.doesNotMatch(shownReplaced.stdout, /signs it again|not one the cluster's CA signed/);
    const recorded = path.join(home, "recorded.yaml");
    await Deno.writeTextFile(recorded, (await ok(home, ["cluster", "show-config", "rs"])).stdout);
    const repair = await mup(
      deployArgs("rs", recorded, await testMirror(), ["--auto-approve"]),
      { home },
    );
    assert.equal(repair.code, 1, output(repair));
    assert.match(
      output(repair).replace(/\s+/g, " "),
      new RegExp(
        "the CA in mup's store is not the cluster's: none of its processes' certificates there " +
          `verifies against it, and the hosts' ${hostsCopy} is another one\\. .* Without one, ` +
          `copy the hosts' certificate \\(localhost:${hostsCopy}, the cluster's\\) over ` +
          `${caPem} and remove ${caKey}`,
      ),
    );
    assert.equal(await Deno.readTextFile(hostsCopy), ours, "the hosts' copy is untouched");
    await Deno.copyFile(hostsCopy, caPem);
    await Deno.remove(caKey);
    assert.ok((await display(home, "rs")).healthy);
  } finally {
    await killAll(home);
  }
});
