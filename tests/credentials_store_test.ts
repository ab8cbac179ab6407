/**
 * The admin password mup stores gone (admin.json lost without a backup) or changed outside mup
 * (tester39 M5): no plan can mend either (a new password would match no user), so
 * `mup cluster credentials <name> --password-stdin` takes the password the user has, logs in
 * with it on the cluster, and only then stores it. The refusals of the other commands name it.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { killAll, mup, output, tempHome } from "./helpers.ts";
import { clusterDir, withClient } from "./apply_helpers.ts";
import { deploy, display, ok, stablePorts } from "./lifecycle_helpers.ts";
import { installFixture } from "./fixture.ts";
import { mupRunArgs } from "../scripts/_mup_cmd.ts";

installFixture();

const squash = (s: string) => s.replace(/\s+/g, " ");
const exists = (f: string) => Deno.stat(f).then(() => true, () => false);

Deno.test("cluster credentials --password-stdin: a wrong password stores nothing; the user's password, checked on the set (arbiter aside), is stored and mup logs in again, also after a change outside mup, and over a damaged file with the set down (tester39 M5, tester46)", async () => {
  const home = await tempHome();
  const ports = stablePorts(3);
  const [p0, p1, arbiter] = ports;
  const topology = `mongod_servers:
  - { host: localhost, port: ${p0}, replica_set: rs0, priority: 2 }
  - { host: localhost, port: ${p1}, replica_set: rs0 }
  - { host: localhost, port: ${arbiter}, replica_set: rs0, arbiter_only: true }
`;
  const admin = path.join(clusterDir(home, "rs"), "secrets", "admin.json");
  const store = (password: string, json = false) =>
    mup(["cluster", "credentials", "rs", "--password-stdin", ...(json ? ["--json"] : [])], {
      home,
      stdin: `${password}\n`,
    });
  try {
    await deploy(home, "rs", topology);
    const creds = JSON.parse(await Deno.readTextFile(admin));
    await Deno.remove(admin);

    // The refusals say how to give it back.
    const restart = await ok(home, ["cluster", "restart", "rs", "--dry-run"], 1);
    assert.match(
      squash(restart.stdout + restart.stderr),
      /admin credentials are missing .* `printf '%s' "\$PASSWORD" \| mup cluster credentials rs --password-stdin` checks it/,
    );

    // A password the user does not have is refused, and nothing is written.
    const wrong = await store("not-the-password");
    assert.equal(wrong.code, 1, output(wrong));
    assert.match(
      squash(wrong.stderr),
      new RegExp(
        `the password does not log in as admin on localhost:${p0}, localhost:${p1} ` +
          "\\(AuthenticationFailed\\): nothing was stored",
      ),
    );
    assert.equal(await exists(admin), false, "nothing stored");

    // The user's own: checked on both data-bearing members, the arbiter passed by.
    const stored = await store(creds.password, true);
    assert.equal(stored.code, 0, output(stored));
    const doc = JSON.parse(stored.stdout);
    assert.deepEqual(doc.checked.toSorted(), [`localhost:${p0}`, `localhost:${p1}`].toSorted());
    assert.deepEqual(doc.arbiters, [`localhost:${arbiter}`]);
    assert.equal(doc.password, undefined, "--json does not echo the password");
    assert.deepEqual(JSON.parse(await Deno.readTextFile(admin)), creds);
    assert.equal((await Deno.stat(admin)).mode! & 0o777, 0o600);
    assert.ok((await display(home, "rs")).healthy);

    // Changed outside mup (mongosh's changeUserPassword is updateUser): mup's is refused, and
    // the refusal's command, pasted with the new password, mends it.
    // Shorter than mup's own (tester47: stored, then read as damaged).
    const changed = "NewSecret1";
    await withClient(
      `mongodb://localhost:${p0}/?directConnection=true`,
      (c) => c.db("admin").command({ updateUser: "admin", pwd: changed }),
      { home, cluster: "rs" },
    );
    // display names the command with the cluster's name (tester47: it said `<name>`).
    const shown = await mup(["cluster", "display", "rs"], { home });
    assert.match(
      squash(shown.stdout),
      /`mup cluster credentials rs --password-stdin` stores the one the user has/,
      output(shown),
    );
    const refused = await ok(home, ["cluster", "restart", "rs", "--dry-run"], 1);
    const said = squash(refused.stdout + refused.stderr);
    assert.match(said, /do not authenticate on localhost:\d+/);
    const command = /Give mup the user's password as it is now \(`([^`]+)` checks it/.exec(said);
    assert.ok(command, said);
    const pasted = await new Deno.Command("sh", {
      args: ["-c", command[1].replace(/\bmup\b/, '"$MUP" "$@"'), "sh", ...mupRunArgs([])],
      env: { PASSWORD: changed, MUP_HOME: home, MUP: Deno.execPath(), NO_COLOR: "1" },
    }).output();
    assert.equal(pasted.code, 0, new TextDecoder().decode(pasted.stderr));
    assert.equal(JSON.parse(await Deno.readTextFile(admin)).password, changed);
    await ok(home, ["cluster", "restart", "rs", "--dry-run"]);

    // With the whole set down (a stop needs no login), nothing can be checked: the refusal
    // names the start by hand of one member, after which the password is stored and
    // `cluster start` starts the rest.
    await ok(home, ["cluster", "stop", "rs", "--auto-approve"]);
    // Damaged (a plan written over it, tester46): a start is refused up front, not left to
    // wait for members it cannot log in to.
    await Deno.writeTextFile(admin, '{"format_version": 1, "plan_id": "plan-x"}\n');
    const startDamaged = await ok(home, ["cluster", "start", "rs", "--dry-run"], 1);
    assert.match(
      squash(startDamaged.stdout + startDamaged.stderr),
      /admin\.json is damaged: mup cannot log in to the cluster without it\. .*--password-stdin/,
    );
    const down = await store(changed);
    assert.equal(down.code, 1, output(down));
    const downSaid = squash(down.stderr);
    assert.match(
      downSaid,
      /no member of rs0 that holds users answered \(arbiters hold none\), so the password could not be checked/,
    );
    const byHand = /without them, by hand with the configuration file mup wrote \(`([^`]+)`\)/
      .exec(downSaid);
    assert.ok(byHand, downSaid);
    const started = await new Deno.Command("sh", { args: ["-c", byHand[1]] }).output();
    assert.equal(started.code, 0, new TextDecoder().decode(started.stderr));
    const again = await store(changed);
    assert.equal(again.code, 0, output(again));
    assert.match(squash(again.stdout), /did not answer/);
    await ok(home, ["cluster", "start", "rs", "--auto-approve"]);
    assert.ok((await display(home, "rs")).healthy);
  } finally {
    await killAll(home);
  }
});
