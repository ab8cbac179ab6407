/**
 * `mup cluster tls` killed with SIGKILL mid-plan, then `mup plan resume`: the change completes
 * and nothing is done twice (no member restarted again, no setParameter repeated). Sharded: an
 * enable through mongos.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import {
  clusterCredentials,
  killAll,
  mup,
  output,
  replicaSetTopology,
  shardedTopology,
  tempHome,
} from "./helpers.ts";
import { count, currentState, processLogs } from "./apply_helpers.ts";
import {
  deploy,
  display,
  installedMongod,
  killMember,
  killWhen,
  ok,
  stablePorts,
} from "./lifecycle_helpers.ts";
import { client, outcome } from "./security_helpers.ts";
import { installFixture } from "./fixture.ts";
import { parse } from "yaml";

installFixture();

/** Resumes; every operation not cut off by the kill ran once at most. */
async function resume(home: string, done: RegExp): Promise<void> {
  const crashed = await currentState(home, "rs");
  assert.equal(crashed.status, "running", "a killed apply is left running");
  const r = await ok(home, ["plan", "resume", "rs"]);
  assert.match(r.stdout, done);
  const st = await currentState(home, "rs");
  const inFlight = (id: string) => crashed.operation_states[id]?.status === "running";
  for (const o of Object.values(st.operation_states)) {
    assert.ok(
      o.executions <= (inFlight(o.id) ? 2 : 1) || /^(wait|verify)/.test(o.id),
      `${o.id} ran ${o.executions}×`,
    );
  }
}

/** A connection string to member localhost:`port` alone, as cluster "rs"'s credentials give. */
async function directTo(home: string): Promise<(port: number) => string> {
  const tls = (await clusterCredentials(home, "rs")).connection_string;
  return (p) =>
    tls.replace(/@[^/]+\//, `@localhost:${p}/`).replace(/replicaSet=\w+/, "directConnection=true");
}

/** The tlsMode member localhost:`port` of cluster "rs" runs with (getParameter). */
async function tlsModeOf(home: string, port: number): Promise<string | undefined> {
  const direct = await directTo(home);
  const r = await client(
    direct(port),
    (c) => c.db("admin").command({ getParameter: 1, tlsMode: 1 }),
  );
  return (r as { tlsMode?: string }).tlsMode;
}

/** How many times each member started, from its log (id 4615611: "MongoDB starting"). */
async function starts(home: string): Promise<number[]> {
  return [...(await processLogs(home, "rs")).values()].map((l) => count(l, /"id":4615611/));
}

Deno.test("kill -9 of mup during cluster tls enable (after a setParameter) and disable (in a restart); plan resume completes each, nothing twice", async () => {
  const home = await tempHome();
  const ports = stablePorts(3);
  try {
    await deploy(home, "rs", replicaSetTopology(ports));
    await killWhen(
      home,
      "rs",
      ["cluster", "tls", "rs", "enable", "--auto-approve"],
      /^set-tls-mode-.*-preferTLS$/,
      "completed",
    );
    // A rollback cannot put the configurations and tlsMode back: it names the way forward.
    const back = await ok(home, ["state", "rollback", "rs", "--checkpoint", "start"], 1);
    assert.match(back.stderr, /\(tls-enable\) cannot be rolled back/);
    assert.match(back.stderr, /mup cluster tls rs disable/);
    await resume(home, /TLS enable completed successfully!/);
    assert.deepEqual(await starts(home), [2, 2, 2], "each member restarted once (deploy, enable)");
    const cred = await clusterCredentials(home, "rs");
    assert.match(cred.connection_string, /tls=true/);
    await client(cred.connection_string, (c) => c.db("admin").command({ ping: 1 }));
    assert.ok((await display(home, "rs")).healthy);

    await killWhen(
      home,
      "rs",
      ["cluster", "tls", "rs", "disable", "--auto-approve"],
      /^stop-.*-to-allowTLS$/,
      "running",
    );
    // The metadata says the switch is under way, and display says so.
    const marker = parse(
      await Deno.readTextFile(`${home}/storage/clusters/rs/meta.yaml`),
    ) as { tls_switch?: { action: string } };
    assert.equal(marker.tls_switch?.action, "disable");
    const shown = await mup(["cluster", "display", "rs"], { home });
    assert.match(shown.stdout, /Note: TLS disable did not finish .*`mup plan resume rs`/);
    // show-config, the file a repair takes, says its security.tls is the recorded one (tester74).
    const config = await ok(home, ["cluster", "show-config", "rs"]);
    assert.match(
      config.stdout,
      /# a TLS disable is under way \(apply \S+\): .*security\.tls says TLS on until `mup plan resume rs` finishes it/,
    );
    // Until the switch is finished, nothing acts on members the metadata does not describe: a
    // stop would have replaced the switch's record, leaving it impossible to resume.
    for (
      const cmd of [
        ["cluster", "restart", "rs"],
        ["cluster", "stop", "rs"],
        ["cluster", "start", "rs"],
        ["cluster", "tls", "rs", "enable"],
      ]
    ) {
      const r = await ok(home, [...cmd, "--auto-approve"], 1);
      assert.match(r.stderr, /cluster rs's TLS disable \(apply \S+\) interrupted part way/);
      assert.match(r.stderr, /`mup plan resume rs`/);
      // The way back is the command as given, its options included.
      assert.ok(
        r.stderr.includes(`then run \`mup ${[...cmd, "--auto-approve"].join(" ")}\` again`),
      );
      assert.doesNotMatch(r.stdout, /Applying plan/);
      // A stop says why it waits (it needs no TLS, but would leave the switch unresumable).
      if (cmd[1] === "stop") assert.match(r.stderr, /would replace the switch as the cluster's/);
    }
    await resume(home, /completed successfully/i);
    const cleared = parse(
      await Deno.readTextFile(`${home}/storage/clusters/rs/meta.yaml`),
    ) as { tls_switch?: unknown };
    assert.equal(cleared.tls_switch, undefined, "the finished switch clears its marker");
    // Deploy, enable, then the three rounds of disable.
    assert.deepEqual(await starts(home), [5, 5, 5]);
    const plain = await clusterCredentials(home, "rs");
    assert.doesNotMatch(plain.connection_string, /tls=/);
    await client(plain.connection_string, (c) => c.db("admin").command({ ping: 1 }));

    const help = await ok(home, ["cluster", "tls", "--help"]);
    assert.match(help.stdout, /Usage: mup cluster tls \[options\] <name> <action>/);
    assert.match(help.stdout, /allowTLS/);
    assert.match(help.stdout, /--plan-only/);
    // Refusals, each naming what to run.
    const none = await ok(home, ["cluster", "tls", "nope", "enable"], 1);
    assert.match(none.stderr, /no deployed cluster named "nope"/);
    const bad = await ok(home, ["cluster", "tls", "rs", "on"], 1);
    assert.match(bad.stderr, /unknown action "on": use enable or disable/);
    await ok(home, ["cluster", "stop", "rs", "--auto-approve"]);
    const stopped = await ok(home, ["cluster", "tls", "rs", "enable", "--auto-approve"], 1);
    assert.match(stopped.stdout, /is not running: .*`mup cluster start rs` first/);
  } finally {
    await killAll(home);
  }
});

Deno.test("cluster tls enable on a running sharded cluster: through mongos only TLS clients with the CA connect, and every lifecycle probe still works", async () => {
  const home = await tempHome();
  const ports = stablePorts(10);
  try {
    await deploy(home, "rs", shardedTopology(ports));
    // The connection string printed before the change: plain, it works now.
    const plain = (await clusterCredentials(home, "rs")).connection_string;
    await client(plain, (c) => c.db("app").collection("t").insertOne({ before: true }));
    await ok(home, ["cluster", "tls", "rs", "enable", "--auto-approve"]);
    const cred = await clusterCredentials(home, "rs");
    assert.match(cred.connection_string, /tls=true&tlsCAFile=/);
    await client(cred.connection_string, async (c) => {
      assert.equal((await c.db("app").collection("t").findOne({ before: true }))?.before, true);
      await c.db("app").collection("t").insertOne({ after: true });
    });
    const refused = await outcome(plain, (c) => c.db("admin").command({ ping: 1 }));
    assert.ok(refused.error, "the plain connection string no longer connects");
    // Every mongod refuses plain clients too (the shards and config servers, not just mongos).
    for (const p of ports.slice(0, 9)) {
      const direct = `mongodb://localhost:${p}/?directConnection=true`;
      const r = await outcome(direct, (c) => c.db("admin").command({ hello: 1 }));
      assert.ok(r.error, `${p} refuses a plain client`);
    }
    assert.ok((await display(home, "rs")).healthy);
    await ok(home, ["cluster", "restart", "rs", "--auto-approve"]);
    assert.ok((await display(home, "rs")).healthy, "a restart keeps requireTLS and works");
  } finally {
    await killAll(home);
  }
});

Deno.test("cluster tls enable cut off at requireTLS, then a member dies and another is restarted by hand: plan resume starts the first and sets preferTLS on it again, brings the second through preferTLS too, and completes", async () => {
  const home = await tempHome();
  const ports = stablePorts(3);
  try {
    await deploy(home, "rs", replicaSetTopology(ports));
    await killWhen(
      home,
      "rs",
      ["cluster", "tls", "rs", "enable", "--auto-approve"],
      /^set-tls-mode-.*-requireTLS$/,
      "running",
    );
    // The member whose requireTLS has not completed dies: it comes back in its configuration's
    // allowTLS, from which MongoDB allows preferTLS only.
    const st = await currentState(home, "rs");
    const port = ports.find((p) =>
      st.operation_states[`set-tls-mode-mongod-localhost-${p}-requireTLS`]?.status !== "completed"
    )!;
    await killMember(home, "rs", port);
    // Another member restarted by hand meanwhile (also back in allowTLS, but running: no start
    // of the resume brings its preferTLS step back): its requireTLS step goes through preferTLS.
    const other = ports.find((p) => p !== port)!;
    const deployDir = `${home}/storage/clusters/rs/deploy`;
    await killMember(home, "rs", other);
    const byHand = await new Deno.Command(await installedMongod(deployDir), {
      args: ["-f", `${deployDir}/conf/mongod-${other}/mongod.conf`],
      stdin: "null",
    }).output();
    assert.equal(byHand.code, 0, new TextDecoder().decode(byHand.stderr));

    const r = await ok(home, ["plan", "resume", "rs"]);
    assert.match(r.stdout, /TLS enable completed successfully!/);
    assert.match(
      r.stdout,
      new RegExp(`↻ Set tlsMode preferTLS on mongod-localhost-${port}: .*setParameter lasts`),
    );
    // Its preferTLS step made again when its requireTLS step had not begun before the kill;
    // when it had, that step goes through preferTLS itself, and says so.
    assert.match(
      r.stdout,
      new RegExp(
        `localhost:${other} was in allowTLS \\(restarted since its preferTLS step\\)|` +
          `↻ Set tlsMode preferTLS on mongod-localhost-${other}: `,
      ),
    );
    for (const p of ports) assert.equal(await tlsModeOf(home, p), "requireTLS", `localhost:${p}`);
    assert.ok((await display(home, "rs")).healthy);
  } finally {
    await killAll(home);
  }
});

Deno.test("cluster tls enable cut off while writing the requireTLS configurations, a secondary killed and writes made since: plan resume keeps the allowTLS files it uploaded, brings the member back through preferTLS, and completes", async () => {
  const home = await tempHome();
  const ports = stablePorts(3);
  try {
    // The uploads of the requireTLS configurations wait (until released) once their files are
    // staged: mup is killed there, before any is written.
    const release = `${home}/release`;
    await deploy(
      home,
      "rs",
      replicaSetTopology(
        ports,
        `hooks:
  before_operation:
    command: >-
      case "$MUP_OPERATION_ID" in upload-config-*-requireTLS)
      while [ ! -e '${release}' ]; do sleep 0.05; done;; esac
`,
      ),
    );
    await killWhen(
      home,
      "rs",
      ["cluster", "tls", "rs", "enable", "--auto-approve"],
      /^upload-config-mongod-.*-requireTLS$/,
      "running",
    );
    await Deno.writeTextFile(release, "");
    // Every member requires TLS by now, while the metadata does not say so yet.
    const ca = `${home}/storage/clusters/rs/secrets/ca.pem`;
    const uri = `${(await clusterCredentials(home, "rs")).connection_string}&tls=true&tlsCAFile=${
      encodeURIComponent(ca)
    }`;
    // A secondary dies; the set takes writes it will have to catch up on.
    const primary = await client(
      uri,
      async (c) => String((await c.db("admin").command({ hello: 1 })).primary),
    );
    const port = ports.find((p) => `localhost:${p}` !== primary)!;
    await killMember(home, "rs", port);
    await client(uri, (c) => c.db("app").collection("t").insertMany([{ a: 1 }, { a: 2 }]));

    const r = await ok(home, ["plan", "resume", "rs"]);
    assert.match(r.stdout, /TLS enable completed successfully!/);
    assert.doesNotMatch(r.stdout, /↻ Upload the configuration/);
    assert.equal(await tlsModeOf(home, port), "requireTLS");
    const direct = await directTo(home);
    // Caught up: the writes made while it was down are on it.
    const copies = await client(
      direct(port),
      (c) => c.db("app").collection("t").countDocuments({}),
      { readPreference: "secondaryPreferred" },
    );
    assert.equal(copies, 2);
    assert.ok((await display(home, "rs")).healthy);
  } finally {
    await killAll(home);
  }
});

Deno.test("cluster tls enable cut off between the requireTLS configurations' uploads, a member whose file was written then killed: plan resume starts it through allowTLS and preferTLS again, writes its requireTLS file again, and completes", async () => {
  const home = await tempHome();
  const ports = stablePorts(3);
  try {
    // Only the last member's requireTLS configuration is written; the others' uploads wait.
    const release = `${home}/release`;
    const x = ports[2];
    await deploy(
      home,
      "rs",
      replicaSetTopology(
        ports,
        `hooks:
  before_operation:
    command: >-
      case "$MUP_OPERATION_ID" in upload-config-mongod-localhost-${x}-requireTLS) ;;
      upload-config-*-requireTLS) while [ ! -e '${release}' ]; do sleep 0.05; done;; esac
`,
      ),
    );
    const st = () => currentState(home, "rs");
    await killWhen(
      home,
      "rs",
      ["cluster", "tls", "rs", "enable", "--auto-approve"],
      new RegExp(`^upload-config-mongod-localhost-${ports[0]}-requireTLS$`),
      "running",
      {},
      async () =>
        (await st()).operation_states[`upload-config-mongod-localhost-${x}-requireTLS`]
          ?.status === "completed",
    );
    await Deno.writeTextFile(release, "");
    await killMember(home, "rs", x);
    const r = await mup(["plan", "resume", "rs"], { home });
    assert.equal(r.code, 0, output(r));
    assert.match(r.stdout, /TLS enable completed successfully!/);
    // What it writes again, and why.
    assert.match(
      r.stdout,
      new RegExp(
        `↻ .*localhost-${x}.*a later step of this plan rewrote the file since: ` +
          `start-mongod-localhost-${x}-to-allowTLS starts again from this configuration`,
      ),
    );
    assert.match(r.stdout, /↻ .*written again after start-mongod-\S+ starts from the earlier one/);
    assert.equal(await tlsModeOf(home, x), "requireTLS");
    // Its next start keeps TLS required: the file says so.
    const shown = await display(home, "rs");
    assert.ok(shown.healthy, JSON.stringify(shown));
    const conf = parse(
      await Deno.readTextFile(`${home}/storage/clusters/rs/deploy/conf/mongod-${x}/mongod.conf`),
    ) as { net: { tls: { mode: string } } };
    assert.equal(conf.net.tls.mode, "requireTLS");
  } finally {
    await killAll(home);
  }
});

Deno.test("cluster tls enable cut off after its members run certificates of its CA, ca.pem then lost from the store: plan resume does not make a new CA (no member would trust it) but names the restore; restored, the resume completes (tester47)", async () => {
  const home = await tempHome();
  const ports = stablePorts(3);
  const secrets = path.join(home, "storage", "clusters", "rs", "secrets");
  try {
    await deploy(home, "rs", replicaSetTopology(ports));
    await killWhen(
      home,
      "rs",
      ["cluster", "tls", "rs", "enable", "--auto-approve"],
      /^set-tls-mode-.*-preferTLS$/,
      "running",
    );
    const ca = path.join(secrets, "ca.pem");
    const kept = await Deno.readTextFile(ca);
    await Deno.remove(ca);
    const refused = await ok(home, ["plan", "resume", "rs"], 1);
    assert.match(
      (refused.stdout + refused.stderr).replace(/\s+/g, " "),
      /the cluster CA this apply made is gone from mup's store \(\S+ca\.pem\), and localhost has it installed .* Put ca\.pem and ca\.key back from a backup of \$MUP_HOME, then `mup plan resume rs`/,
    );
    await assert.rejects(Deno.stat(ca), Deno.errors.NotFound, "no new CA was made");
    await Deno.writeTextFile(ca, kept, { mode: 0o600 });
    const r = await ok(home, ["plan", "resume", "rs"]);
    assert.match(r.stdout, /TLS enable completed successfully!/);
    for (const p of ports) assert.equal(await tlsModeOf(home, p), "requireTLS", `localhost:${p}`);
    assert.ok((await display(home, "rs")).healthy);
  } finally {
    await killAll(home);
  }
});
