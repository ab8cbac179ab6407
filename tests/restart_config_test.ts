/**
 * A configuration file edited by hand on its host (its `security:` block removed, or left
 * invalid) is not what mup generates for its process from the recorded cluster: `cluster
 * restart` and `cluster start` refuse it at planning, naming host, path, process, the first
 * differing line and the repair, so a restart neither brings the server back open (no auth,
 * while the metadata says auth) nor stops one it cannot start; a restart or start saved before
 * the edit stops at its safety check. The member keeps running (same PID); the repair writes
 * the configuration again.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import {
  deployArgs,
  killAll,
  mup,
  type MupResult,
  output,
  standaloneTopology,
  tempHome,
  testMirror,
} from "./helpers.ts";
import { deploy, display, displayAnyway, ok, stablePorts } from "./lifecycle_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

const REPAIR =
  /`mkdir -p \S+ && mup cluster show-config sa > (\S+\/sa\.recorded\.yaml) && mup cluster deploy sa \1 --version 7\.0[.0-9]* --mirror \S+` \(a repair\)/;

/** A standalone deployed in a new home; `body` gets its files and how to find its PID. */
async function withStandalone(
  body: (s: {
    home: string;
    id: string;
    conf: string;
    pidOf: () => Promise<number | undefined>;
  }) => Promise<void>,
): Promise<void> {
  const home = await tempHome();
  const [port] = stablePorts(1);
  try {
    await deploy(home, "sa", standaloneTopology([port]));
    const deployDir = path.join(home, "storage", "clusters", "sa", "deploy");
    await body({
      home,
      id: `mongod-localhost-${port}`,
      conf: path.join(deployDir, "conf", `mongod-${port}`, "mongod.conf"),
      pidOf: async () =>
        (await displayAnyway(home, "sa")).processes.find((p) => p.id === `localhost:${port}`)?.pid,
    });
  } finally {
    await killAll(home);
  }
}

/** The configuration without its `security:` block (keyFile, authorization). */
const withoutSecurity = (text: string) => {
  const open = text.replace(/\nsecurity:\n( {2}.*\n)+/, "\n");
  assert.notEqual(open, text, "the generated configuration has a security block");
  return open;
};

function assertRefused(r: MupResult, said: string): void {
  assert.equal(r.code, 1, output(r));
  assert.ok(r.stdout.includes(said), output(r));
  assert.match(r.stdout, REPAIR, output(r));
  assert.doesNotMatch(r.stdout, /Applying plan/, output(r));
}

Deno.test("restart of a standalone whose configuration lost its security block (or got an invalid key) is refused at planning; a restart saved before stops at its stop's check; the repair writes it again", async () => {
  await withStandalone(async ({ home, id, conf, pidOf }) => {
    const pid = await pidOf();
    assert.ok(pid, "the standalone runs");
    const saved = JSON.parse(
      (await ok(home, ["cluster", "restart", "sa", "--plan-only", "--json"])).stdout,
    ).plan_id;
    const generated = await Deno.readTextFile(conf);
    await Deno.writeTextFile(conf, withoutSecurity(generated));
    const said = `configuration file localhost:${conf} of ${id} differs from the one mup ` +
      `generates for it from the recorded cluster (line ${
        generated.split("\n").indexOf("security:") + 1
      } is the end of the file, expected "security:")`;
    assertRefused(await mup(["cluster", "restart", "sa", "--auto-approve"], { home }), said);
    const json = await mup(["cluster", "restart", "sa", "--plan-only", "--json"], { home });
    assert.equal(json.code, 1, output(json));
    assert.ok(
      JSON.parse(json.stdout).checks.some((c: { name: string; message: string }) =>
        c.name === "start_file_changed" && c.message.includes(conf)
      ),
      json.stdout,
    );
    assert.equal(await pidOf(), pid, "not stopped");

    // An invalid security key: mongod would refuse to start on it, so the member is not stopped.
    await Deno.writeTextFile(
      conf,
      generated.replace("security:\n", "security:\n  notAnOption: true\n"),
    );
    assertRefused(
      await mup(["cluster", "restart", "sa", "--auto-approve"], { home }),
      `configuration file localhost:${conf} of ${id} differs from the one mup generates`,
    );
    assert.equal(await pidOf(), pid, "not stopped");

    // The restart saved before the edit stops at its stop's safety check.
    await Deno.writeTextFile(conf, withoutSecurity(generated));
    const late = await mup(["plan", "apply", saved, "--auto-approve"], { home });
    assert.equal(late.code, 1, output(late));
    assert.ok(
      late.stdout.includes(
        `Safety check failed for operation stop-${id}: files_present: configuration file ` +
          `localhost:${conf} of ${id} differs from the one mup generates for it from the ` +
          `recorded cluster`,
      ),
      output(late),
    );
    assert.match(late.stdout, REPAIR, output(late));
    assert.doesNotMatch(late.stdout, /✓ Stop /, output(late));
    assert.equal(await pidOf(), pid, "not stopped");

    // The repair finds it although the standalone answers, and writes the configuration again.
    const repair = await mup(
      deployArgs("sa", path.join(home, "sa.yaml"), await testMirror(), ["--auto-approve"]),
      { home },
    );
    assert.equal(repair.code, 0, output(repair));
    assert.ok(repair.stdout.includes(`again: ${conf} differs from the plan's`), output(repair));
    // The member runs on what it read when it started: the review says so, and how to move it.
    const port = id.split("-").at(-1);
    assert.ok(
      repair.stdout.replace(/\s+/g, " ").includes(
        `${conf} is not the configuration mup generates: the repair writes mup's back, but ` +
          `localhost:${port} runs on what it read when started (the changed file's options, ` +
          "if started after it was changed) and the repair does not restart running members: `mup cluster restart " +
          `sa -N localhost:${port}\` after it makes it read the file written back`,
      ),
      output(repair),
    );
    assert.equal(await Deno.readTextFile(conf), generated);
    await ok(home, ["cluster", "restart", "sa", "--auto-approve"]);
    const after = await pidOf();
    assert.ok(after && after !== pid, "restarted");
    assert.equal((await display(home, "sa")).healthy, true);
  });
});

Deno.test("start of a stopped standalone whose configuration was edited is refused at planning, and a start saved before the edit stops at its configuration check", async () => {
  await withStandalone(async ({ home, id, conf, pidOf }) => {
    await ok(home, ["cluster", "stop", "sa", "--auto-approve"]);
    const saved = JSON.parse(
      (await ok(home, ["cluster", "start", "sa", "--plan-only", "--json"])).stdout,
    ).plan_id;
    const generated = await Deno.readTextFile(conf);
    await Deno.writeTextFile(
      conf,
      generated.replace(/bindIp: .*/, "bindIp: 0.0.0.0"),
    );
    assertRefused(
      await mup(["cluster", "start", "sa", "--auto-approve"], { home }),
      `configuration file localhost:${conf} of ${id} differs from the one mup generates for ` +
        `it from the recorded cluster (line 4 is "  bindIp: 0.0.0.0", expected "  bindIp: `,
    );
    const late = await mup(["plan", "apply", saved, "--auto-approve"], { home });
    assert.equal(late.code, 1, output(late));
    assert.ok(
      late.stdout.includes(
        `Safety check failed for operation start-${id}: config_valid: configuration file ` +
          `localhost:${conf} of ${id} differs from the one mup generates for it`,
      ),
      output(late),
    );
    assert.equal((await display(home, "sa", 1)).processes[0].pid, undefined, "not started");
    await Deno.writeTextFile(conf, generated);
    await ok(home, ["cluster", "start", "sa", "--auto-approve"]);
    assert.ok(await pidOf(), "started");
  });
});
