/**
 * A recorded cluster's secrets gone from mup's store: a repair (deploy) or scale-out would make
 * new ones while the members run on the old ones (tester31: a repair replaced the keyfile on
 * the hosts and reported success; the next restart locked that member out of its set). They
 * are refused, naming the file and how to put it back; put back, the repair finds no change. A
 * plan saved before the loss stops at the secret's operation; plans that must log in (restart)
 * are refused without the admin credentials.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import {
  deployArgs,
  killAll,
  replicaSetTopology,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { deploy, display, ok, portFree, stablePorts } from "./lifecycle_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

Deno.test("a repair or scale-out of a cluster whose keyfile or admin credentials are gone from mup's store is refused, naming the file and the copy that puts it back; the hosts' keyfile stays", async () => {
  const home = await tempHome();
  const ports = stablePorts(4);
  try {
    await deploy(home, "rs", replicaSetTopology(ports.slice(0, 3)));
    const secrets = path.join(home, "storage", "clusters", "rs", "secrets");
    const onHost = path.join(home, "storage", "clusters", "rs", "deploy", "secrets", "keyfile");
    const key = await Deno.readTextFile(onHost);
    const repair = deployArgs("rs", path.join(home, "rs.yaml"), await testMirror(), [
      "--auto-approve",
    ]);

    await Deno.remove(path.join(secrets, "keyfile"));
    const refused = await ok(home, repair, 1);
    const said = (refused.stdout + refused.stderr).replace(/\s+/g, " ");
    assert.ok(
      said.includes(
        `the cluster's keyfile is missing from mup's store (${secrets}/keyfile): its members ` +
          "run with the copy on their hosts, and a new keyfile would lock them out of each other",
      ),
      said,
    );
    assert.equal(await Deno.readTextFile(onHost), key, "the hosts' keyfile is unchanged");
    // The fix it names, pasted into a shell, puts it back; the repair then has nothing to do.
    const fix = /Put it back: `([^`]+)`/.exec(said)![1];
    const sh = await new Deno.Command("sh", { args: ["-c", fix] }).output();
    assert.equal(sh.code, 0, new TextDecoder().decode(sh.stderr));
    assert.equal(await Deno.readTextFile(path.join(secrets, "keyfile")), key);
    assert.match((await ok(home, repair)).stdout, /No changes/);

    // Gone from the hosts too: no `cp` is offered that cannot work.
    await Deno.remove(path.join(secrets, "keyfile"));
    await Deno.rename(onHost, `${onHost}.away`);
    const both = await ok(home, repair, 1);
    assert.match(
      (both.stdout + both.stderr).replace(/\s+/g, " "),
      /and from \S+keyfile on localhost too: .* Give them all a new one at once: `\(umask 077; openssl rand -base64 756 > \S+\) && cp \S+ \S+ && mup cluster restart rs --force`/,
    );
    assert.doesNotMatch(both.stdout + both.stderr, /Put it back: `cp/);
    await Deno.rename(`${onHost}.away`, onHost);
    await Deno.writeTextFile(path.join(secrets, "keyfile"), key, { mode: 0o600 });

    // A repair saved before the loss and applied after it stops at the keyfile's operation,
    // before anything else: no new keyfile in the store or on the hosts (tester32).
    await ok(home, ["cluster", "stop", "rs", "-N", `localhost:${ports[2]}`, "--auto-approve"]);
    await ok(home, repair.map((a) => a === "--auto-approve" ? "--plan-only" : a));
    await Deno.remove(path.join(secrets, "keyfile"));
    const stale = await ok(home, ["plan", "apply", "rs", "--auto-approve"], 1);
    assert.match(
      (stale.stdout + stale.stderr).replace(/\s+/g, " "),
      /the cluster's keyfile is missing from mup's store \(\S+keyfile\), and cluster rs runs on it: this plan, made before, would make new one/,
    );
    await assert.rejects(Deno.stat(path.join(secrets, "keyfile")), "no keyfile made");
    assert.equal(await Deno.readTextFile(onHost), key, "the hosts' keyfile is unchanged");
    await Deno.writeTextFile(path.join(secrets, "keyfile"), key, { mode: 0o600 });
    await ok(home, repair);
    assert.ok((await display(home, "rs")).healthy);

    // The admin credentials: no new password for a user that exists with the old one.
    const admin = path.join(secrets, "admin.json");
    const creds = await Deno.readTextFile(admin);
    await Deno.remove(admin);
    // display says why it cannot log in, beside what the servers answer.
    const shown = await ok(home, ["cluster", "display", "rs"], 1);
    assert.match(
      shown.stdout.replace(/\s+/g, " "),
      /Note: the cluster's admin credentials are missing/,
    );
    const noAdmin = await ok(home, repair, 1);
    assert.match(
      (noAdmin.stdout + noAdmin.stderr).replace(/\s+/g, " "),
      /the cluster's admin credentials are missing from mup's store \(\S+admin\.json\): the user admin exists/,
    );
    // A scale-out would give its new member a new password's credentials just the same.
    const bigger = await writeTopology(home, "rs4.yaml", replicaSetTopology(ports));
    const scaled = await ok(home, ["cluster", "scale-out", "rs", bigger, "--auto-approve"], 1);
    assert.match(scaled.stdout + scaled.stderr, /admin credentials are missing from mup's store/);
    // A restart needs them to log in: refused up front, not blamed on a member mid-apply.
    const restart = await ok(home, ["cluster", "restart", "rs", "--auto-approve"], 1);
    assert.match(restart.stdout + restart.stderr, /admin credentials are missing from mup's store/);
    // A stop needs no login: a member that refuses the shutdown command (Unauthorized) gets
    // SIGTERM. display --json names the lost file for scripts.
    const lostJson = JSON.parse((await ok(home, ["cluster", "display", "rs", "--json"], 1)).stdout);
    assert.match(String(lostJson.secrets_lost), /admin credentials are missing from mup's store/);
    const stopped = await ok(home, ["cluster", "stop", "rs", "--auto-approve"]);
    // Said before it is approved: the start after it is refused until the file is back.
    assert.match(
      stopped.stdout.replace(/\s+/g, " "),
      /admin credentials are missing from mup's store .* This stop does not need it .* `mup cluster start rs` is refused until it is back/,
    );
    for (const p of ports.slice(0, 3)) assert.ok(portFree(p), `port ${p} is free after the stop`);
    const refusedStart = await ok(home, ["cluster", "start", "rs", "--auto-approve"], 1);
    assert.match(refusedStart.stdout + refusedStart.stderr, /admin credentials are missing/);
    await Deno.writeTextFile(admin, creds, { mode: 0o600 });
    await ok(home, ["cluster", "start", "rs", "--auto-approve"]);
    assert.ok((await display(home, "rs")).healthy);

    // The credentials in place but refused (the password changed outside mup): a restart is
    // refused up front, naming the file, not blamed on members mid-apply (tester37).
    const stored = JSON.parse(creds);
    await Deno.writeTextFile(admin, JSON.stringify({ ...stored, password: "x".repeat(24) }));
    const wrong = await ok(home, ["cluster", "restart", "rs", "--dry-run"], 1);
    const wrongSaid = (wrong.stdout + wrong.stderr).replace(/\s+/g, " ");
    assert.match(
      wrongSaid,
      /the admin credentials mup stores \(\S+admin\.json\) do not authenticate on localhost:\d+ \(the password changed or the user dropped outside mup\?\)/,
    );
    assert.doesNotMatch(wrongSaid, /hung or busy|does not answer/);
    // Damaged (not what mup writes): refused as such.
    await Deno.writeTextFile(admin, JSON.stringify({ ...stored, password: 42 }));
    const damaged = await ok(home, ["cluster", "restart", "rs", "--dry-run"], 1);
    assert.match(
      (damaged.stdout + damaged.stderr).replace(/\s+/g, " "),
      /admin\.json is damaged: mup cannot log in to the cluster without it/,
    );
    await Deno.writeTextFile(admin, creds);

    // The keyfile gone from the store and the hosts: the way the refusal gives, pasted, gives
    // every member the new keyfile at once, and the set forms on it.
    await Deno.remove(path.join(secrets, "keyfile"));
    await Deno.remove(onHost);
    const gone = await ok(home, repair, 1);
    const route = /Give them all a new one at once: `([^`]+) && mup cluster restart rs --force`/
      .exec((gone.stdout + gone.stderr).replace(/\s+/g, " "))![1];
    const made = await new Deno.Command("sh", { args: ["-c", route] }).output();
    assert.equal(made.code, 0, new TextDecoder().decode(made.stderr));
    assert.notEqual(await Deno.readTextFile(onHost), key, "a new keyfile on the hosts");
    await ok(home, ["cluster", "restart", "rs", "--force", "--auto-approve"]);
    assert.ok((await display(home, "rs")).healthy);
    assert.match((await ok(home, repair)).stdout, /No changes/);
  } finally {
    await killAll(home);
  }
});
