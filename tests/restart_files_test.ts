/**
 * A restart never stops a member it cannot start again: the files a start reads (its
 * configuration file, the binary, the keyfile, the TLS files) deleted from the host make the
 * plan invalid before anything is stopped, naming each file and the repair; a restart saved
 * earlier and applied after the deletion stops at its stop's safety check. The member keeps
 * running (same PID) throughout.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { parse } from "yaml";
import {
  deployArgs,
  killAll,
  mup,
  type MupResult,
  output,
  replicaSetTopology,
  tempHome,
  testMirror,
} from "./helpers.ts";
import { sha256File } from "../lib/util/file_hash.ts";
import { deploy, displayAnyway, ok, stablePorts } from "./lifecycle_helpers.ts";
import { installFixture } from "./fixture.ts";
import { mupRunArgs } from "../scripts/_mup_cmd.ts";

installFixture();

/** The repair each refusal names. */
const REPAIR =
  /`mkdir -p \S+ && mup cluster show-config rs > (\S+\/rs\.recorded\.yaml) && mup cluster deploy rs \1 --version 7\.0[.0-9]* --mirror \S+` \(a repair\)/;

/** A 3-member set deployed in a new home; `body` gets its last member and that member's files. */
async function withSet(
  extra: string,
  body: (s: {
    home: string;
    id: string;
    /** `cluster restart rs -N <the member>`. */
    restart: string[];
    conf: string;
    deployDir: string;
    pidOf: () => Promise<number | undefined>;
  }) => Promise<void>,
): Promise<void> {
  const home = await tempHome();
  const ports = stablePorts(3);
  try {
    await deploy(home, "rs", replicaSetTopology(ports, extra));
    const last = ports[2];
    const deployDir = path.join(home, "storage", "clusters", "rs", "deploy");
    const pidOf = async () =>
      (await displayAnyway(home, "rs")).processes.find((p) => p.id === `localhost:${last}`)?.pid;
    await body({
      home,
      id: `mongod-localhost-${last}`,
      restart: ["cluster", "restart", "rs", "-N", `localhost:${last}`],
      conf: path.join(deployDir, "conf", `mongod-${last}`, "mongod.conf"),
      deployDir,
      pidOf,
    });
  } finally {
    await killAll(home);
  }
}

/** The restart was refused at planning, saying `said` and the repair; nothing was applied. */
function assertRefused(r: MupResult, said: string): void {
  assert.equal(r.code, 1, output(r));
  assert.ok(r.stdout.includes(said), output(r));
  assert.match(r.stdout, REPAIR, output(r));
  assert.doesNotMatch(r.stdout, /Applying plan/, output(r));
}

Deno.test("restart of a member whose configuration file was deleted is refused at planning, naming the file; the member keeps running", async () => {
  await withSet("", async ({ home, id, restart, conf, pidOf }) => {
    const pid = await pidOf();
    assert.ok(pid, "the member runs");
    await Deno.rename(conf, `${conf}.aside`);
    assertRefused(
      await mup([...restart, "--auto-approve"], { home }),
      `configuration file localhost:${conf} of ${id} is missing: the process cannot start`,
    );
    const json = await mup([...restart, "--plan-only", "--json"], { home });
    assert.equal(json.code, 1, output(json));
    assert.ok(
      JSON.parse(json.stdout).checks.some((c: { name: string; message: string }) =>
        c.name === "start_file_missing" && c.message.includes(conf)
      ),
      json.stdout,
    );
    assert.equal(await pidOf(), pid, "not stopped");
    // Back in place: the restart runs, and the member comes back.
    await Deno.rename(`${conf}.aside`, conf);
    await ok(home, [...restart, "--auto-approve"]);
    const after = await pidOf();
    assert.ok(after && after !== pid, "restarted");
  });
});

Deno.test("restart of a member whose log directory was deleted is refused at planning, naming it and the repair that makes it again; the member keeps running (tester61)", async () => {
  await withSet("", async ({ home, id, restart, deployDir, pidOf }) => {
    const pid = await pidOf();
    assert.ok(pid, "the member runs");
    const logs = path.join(deployDir, "logs", id.replace("mongod-localhost-", "mongod-"));
    assert.ok((await Deno.stat(logs)).isDirectory, logs);
    await Deno.remove(logs, { recursive: true });
    const refused = await mup([...restart, "--auto-approve"], { home });
    assertRefused(
      refused,
      `log directory localhost:${logs} of ${id} is missing: the process cannot start`,
    );
    assert.match(refused.stdout, /Make it again with `[^`]+` \(a repair\)/);
    assert.equal(await pidOf(), pid, "not stopped");
  });
});

Deno.test("restart of a member whose keyfile was deleted is refused at planning, naming the file; the member keeps running", async () => {
  await withSet("", async ({ home, id, restart, deployDir, pidOf }) => {
    const pid = await pidOf();
    assert.ok(pid, "the member runs");
    const keyfile = path.join(deployDir, "secrets", "keyfile");
    await Deno.remove(keyfile);
    const refused = await mup([...restart, "--auto-approve"], { home });
    assertRefused(
      refused,
      `keyfile localhost:${keyfile} of ${id} is missing: the process cannot start`,
    );
    assert.equal(await pidOf(), pid, "not stopped");
    // The repair named, pasted into a shell as written, works even with the topology file
    // deployed gone: it deploys the recorded topology, written where the hooks run.
    await Deno.remove(path.join(home, "rs.yaml"));
    const hint = /`(mkdir -p [^`]+)` \(a repair\)/.exec(refused.stdout)![1];
    const mupFn = `mup() { ${
      [Deno.execPath(), ...mupRunArgs([])].map((a) => `'${a}'`).join(" ")
    } "$@"; }`;
    const pasted = await new Deno.Command("sh", {
      args: ["-c", `${mupFn}; ${hint.replace("--version", "--auto-approve --version")}`],
      env: { MUP_HOME: home },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const said = new TextDecoder().decode(pasted.stdout) + new TextDecoder().decode(pasted.stderr);
    assert.equal(pasted.code, 0, said);
    assert.match(said, /Deployment completed successfully!/);
    assert.ok(await Deno.stat(keyfile), "the repair wrote the keyfile back");
    await ok(home, [...restart, "--auto-approve"]);
  });
});

Deno.test("a restart saved before the configuration file was deleted and applied after stops at its stop's safety check; the member keeps running", async () => {
  await withSet("", async ({ home, id, restart, conf, pidOf }) => {
    const pid = await pidOf();
    assert.ok(pid, "the member runs");
    const saved = JSON.parse((await ok(home, [...restart, "--plan-only", "--json"])).stdout)
      .plan_id;
    await Deno.remove(conf);
    const late = await mup(["plan", "apply", saved, "--auto-approve"], { home });
    assert.equal(late.code, 1, output(late));
    assert.ok(
      late.stdout.includes(
        `Safety check failed for operation stop-${id}: files_present: configuration file ` +
          `localhost:${conf} of ${id} is missing: stopped, it could not start again`,
      ),
      output(late),
    );
    assert.match(late.stdout, REPAIR, output(late));
    assert.doesNotMatch(late.stdout, /✓ Stop /, output(late));
    assert.equal(await pidOf(), pid, "not stopped");
  });
});

Deno.test("TLS: restart of a member whose certificate was deleted is refused at planning, and so is its start once stopped; restored, it starts", async () => {
  await withSet(
    "global:\n  security: { tls: true }\n",
    async ({ home, id, restart, deployDir, pidOf }) => {
      const pid = await pidOf();
      assert.ok(pid, "the member runs");
      const cert = path.join(deployDir, "secrets", `${id}.pem`);
      await Deno.rename(cert, `${cert}.aside`);
      const said =
        `TLS certificate localhost:${cert} of ${id} is missing: the process cannot start`;
      assertRefused(await mup([...restart, "--auto-approve"], { home }), said);
      assert.equal(await pidOf(), pid, "not stopped");
      // Stopped on purpose, its start is refused the same way, before anything runs.
      const member = restart.slice(3);
      await ok(home, ["cluster", "stop", "rs", ...member, "--auto-approve"]);
      assertRefused(
        await mup(["cluster", "start", "rs", ...member, "--auto-approve"], { home }),
        said,
      );
      await Deno.rename(`${cert}.aside`, cert);
      await ok(home, ["cluster", "start", "rs", ...member, "--auto-approve"]);
      assert.ok(await pidOf(), "started");
    },
  );
});

Deno.test("a binary replaced since the deploy: restart refused at planning, a saved restart stops at its stop's check, the repair installs it again (and a keyfile changed meanwhile)", async () => {
  await withSet("", async ({ home, id, restart, deployDir, pidOf }) => {
    const pid = await pidOf();
    assert.ok(pid, "the member runs");
    // The deploy recorded the installed binary's sha256, the verified download's.
    const metaFile = path.join(home, "storage", "clusters", "rs", "meta.yaml");
    const binaries = parse(await Deno.readTextFile(metaFile)).binaries as {
      host: string;
      path: string;
      sha256: string;
    }[];
    assert.equal(binaries.length, 1, JSON.stringify(binaries));
    const [{ path: binary, sha256 }] = binaries;
    assert.equal(await sha256File(binary), sha256);
    const planned = JSON.parse((await ok(home, [...restart, "--plan-only", "--json"])).stdout);
    const saved = planned.plan_id;
    // Its start checks the binary against that sha256 too.
    const start = (planned.plan ?? planned).phases.flatMap((ph: { operations: unknown[] }) =>
      ph.operations
    ).find((o: { id: string }) => o.id === `start-${id}`);
    assert.equal(
      start?.pre_conditions.find((c: { check_type: string }) => c.check_type === "binary_present")
        ?.params.sha256,
      sha256,
      JSON.stringify(start),
    );
    // Replaced by something else that still runs (the simulator's launcher, one line more).
    await Deno.writeTextFile(binary, "\n# not the release's\n", { append: true });
    assertRefused(
      await mup([...restart, "--auto-approve"], { home }),
      `binary localhost:${binary} of ${id} is not the one mup installed`,
    );
    const late = await mup(["plan", "apply", saved, "--auto-approve"], { home });
    assert.equal(late.code, 1, output(late));
    assert.ok(
      late.stdout.includes(
        `Safety check failed for operation stop-${id}: files_present: binary ` +
          `localhost:${binary} of ${id} is not the one mup installed`,
      ),
      output(late),
    );
    assert.equal(await pidOf(), pid, "not stopped");
    // A keyfile with other content than the cluster's (the running members keep their
    // sessions; the next start would fail to join): the repair names it and writes it again.
    const keyfile = path.join(deployDir, "secrets", "keyfile");
    const key = await Deno.readTextFile(keyfile);
    await Deno.writeTextFile(keyfile, "somebodyelseskey0123456789\n");
    // The repair sees it although every member answers, and installs the release's again.
    const repair = await mup(
      deployArgs("rs", path.join(home, "rs.yaml"), await testMirror(), ["--auto-approve"]),
      { home },
    );
    assert.equal(repair.code, 0, output(repair));
    assert.ok(repair.stdout.includes(`again: ${binary} is not the one installed`), output(repair));
    assert.ok(repair.stdout.includes(`again: ${keyfile} is not the cluster's`), output(repair));
    assert.equal(await Deno.readTextFile(keyfile), key);
    assert.equal(await sha256File(binary), sha256);
    await ok(home, [...restart, "--auto-approve"]);
    const after = await pidOf();
    assert.ok(after && after !== pid, "restarted");
  });
});

Deno.test("restart of a set whose keyfile has other content than the cluster's is refused at planning: restarted on it, members could not authenticate to the set", async () => {
  await withSet("", async ({ home, id, restart, deployDir, pidOf }) => {
    const pid = await pidOf();
    assert.ok(pid, "the member runs");
    const keyfile = path.join(deployDir, "secrets", "keyfile");
    await Deno.chmod(keyfile, 0o600);
    await Deno.writeTextFile(keyfile, "anotherkeyanotherkeyanotherkey\n");
    assertRefused(
      await mup([...restart, "--auto-approve"], { home }),
      `keyfile localhost:${keyfile} of ${id} is not the one mup installed`,
    );
    const whole = await mup(["cluster", "restart", "rs", "--auto-approve"], { home });
    assert.equal(whole.code, 1, output(whole));
    assert.match(whole.stdout, /could not authenticate to the rest of its set/, output(whole));
    assert.equal(await pidOf(), pid, "not stopped");
  });
});
