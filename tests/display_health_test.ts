/**
 * `cluster display` judges a member by what its set says of it, not only by what it says of
 * itself: a member restarted by hand on a keyfile whose content was changed on disk answers
 * ping and calls itself SECONDARY, but it cannot authenticate to the other members (nor they to
 * it), so the primary sees it as not reachable. Display shows it not healthy, with the reason,
 * and the cluster degraded.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import {
  clusterCredentials,
  deployArgs,
  killAll,
  mup,
  output,
  replicaSetTopology,
  smallShardedTopology,
  standaloneTopology,
  tempHome,
  testMirror,
} from "./helpers.ts";
import { asAdmin } from "./security_helpers.ts";
import { clusterDir } from "./apply_helpers.ts";
import {
  deploy,
  type Display,
  display,
  installedMongod,
  killMember,
  ok,
  stablePorts,
} from "./lifecycle_helpers.ts";
import { admin, runBin, waitFor } from "./sim_helpers.ts";
import { pidAlive } from "../lib/executor/local.ts";
import { installFixture } from "./fixture.ts";

installFixture();

/**
 * What a colleague does outside mup: stops the member `pid` (SIGTERM, waited for), then starts
 * it by hand from the cluster's binary on the configuration file `conf` gives (written after the
 * stop, so it may be the member's own file edited).
 */
async function restartByHand(
  deployDir: string,
  pid: number,
  conf: () => Promise<string>,
): Promise<void> {
  Deno.kill(pid, "SIGTERM");
  await waitFor(() => Promise.resolve(!pidAlive(pid)), 30_000);
  const file = await conf();
  const started = await runBin(await installedMongod(deployDir), ["-f", file]);
  assert.equal(started.code, 0, output(started));
}

Deno.test("display: a member restarted by hand on a changed keyfile answers, calls itself SECONDARY, but the primary cannot reach it: not healthy, the reason shown, the cluster degraded", async () => {
  const home = await tempHome();
  const ports = stablePorts(3);
  try {
    await deploy(home, "rs", replicaSetTopology(ports));
    assert.ok((await display(home, "rs")).healthy);
    const last = ports[2];
    const id = `localhost:${last}`;
    const deployDir = path.join(clusterDir(home, "rs"), "deploy");
    // What a user might do: another key in the keyfile, then a restart of one member by hand.
    const keyfile = path.join(deployDir, "secrets", "keyfile");
    await Deno.chmod(keyfile, 0o600);
    await Deno.writeTextFile(keyfile, "anotherkeyanotherkeyanotherkey\n");
    await Deno.chmod(keyfile, 0o400);
    const pid = (await display(home, "rs")).processes.find((p) => p.id === id)?.pid;
    assert.ok(pid, "the member runs");
    const conf = path.join(deployDir, "conf", `mongod-${last}`, "mongod.conf");
    await restartByHand(deployDir, pid, () => Promise.resolve(conf));
    // It answers, and by its own account it is a secondary.
    await waitFor(async () => (await admin(last, { ping: 1 })).ok === 1, 30_000);
    const shown = await waitFor(async () => {
      const r = await mup(["cluster", "display", "rs", "--json", "--detailed-exitcode"], {
        home,
      });
      const d = JSON.parse(r.stdout) as Display;
      const row = d.processes.find((p) => p.id === id);
      return row?.state === "SECONDARY" ? { r, d, row } : undefined;
    }, 30_000);
    assert.equal(shown.r.code, 2, output(shown.r));
    assert.equal(shown.d.healthy, false, output(shown.r));
    assert.equal(shown.row.healthy, false, output(shown.r));
    assert.match(
      shown.row.reason ?? "",
      new RegExp(`not reachable from the set's primary localhost:${ports[0]}`),
      output(shown.r),
    );
    assert.match(
      shown.row.reason ?? "",
      /Authentication failed\.? \(the two run with different keyfiles\)/,
      output(shown.r),
    );
    // The other members are as healthy as before.
    for (const p of shown.d.processes.filter((p) => p.id !== id)) {
      assert.ok(p.healthy, JSON.stringify(p));
    }
    // The plain display says the same, and without --detailed-exitcode exits 1.
    const text = await mup(["cluster", "display", "rs"], { home });
    assert.equal(text.code, 1, output(text));
    assert.match(
      text.stdout,
      new RegExp(`${id} SECONDARY: not reachable from the set's primary`),
      output(text),
    );

    // A repair writes the keyfile back, but the member runs with the key it read: the repair's
    // health check says the set refuses it and names the restart that mends it, soon (not at
    // its timeout, which waiting longer could not help).
    const repair = await mup(
      deployArgs("rs", path.join(home, "rs.yaml"), await testMirror(), ["--auto-approve"]),
      { home },
    );
    assert.equal(repair.code, 1, output(repair));
    // The review says it puts the cluster's keyfile back, and what that leaves running.
    assert.match(
      repair.stdout,
      /keyfile is not the cluster's: the repair writes the cluster's back, but a running member keeps the key it read when it started/,
    );
    // The review says so before anything runs.
    assert.match(
      repair.stdout,
      new RegExp(`the repair starts what is stopped; \`mup cluster restart rs -N ${id}\``),
    );
    assert.match(
      repair.stdout,
      new RegExp(`the set refuses ${id} \\(its keyfile is not the set's`),
      output(repair),
    );
    assert.match(repair.stdout, new RegExp(`\`mup cluster restart rs -N ${id}\` restarts it`));
    assert.doesNotMatch(repair.stdout, /wait-timeout|not reachable\/healthy/, output(repair));
    await ok(home, ["cluster", "restart", "rs", "-N", id, "--auto-approve"]);
    const mended = await display(home, "rs");
    assert.ok(mended.healthy, JSON.stringify(mended));
  } finally {
    await killAll(home);
  }
});

Deno.test("display: a member restarted by hand without access control answers anyone: not healthy, named on the Security line and in --json, with the stop and start that restore it (tester59)", async () => {
  const home = await tempHome();
  const ports = stablePorts(3);
  try {
    await deploy(home, "rs", replicaSetTopology(ports));
    const last = ports[2];
    const id = `localhost:${last}`;
    const deployDir = path.join(clusterDir(home, "rs"), "deploy");
    const pid = (await display(home, "rs")).processes.find((p) => p.id === id)?.pid;
    assert.ok(pid, "the member runs");
    // Its configuration without the security section, as a colleague might start it.
    await restartByHand(deployDir, pid, async () => {
      const conf = path.join(deployDir, "conf", `mongod-${last}`, "mongod.conf");
      const open = path.join(home, "open.conf");
      const text = await Deno.readTextFile(conf);
      const kept = text.split("\n");
      const at = kept.findIndex((l) => l.startsWith("security:"));
      assert.ok(at >= 0, text);
      let end = at + 1;
      while (end < kept.length && /^\s/.test(kept[end])) end++;
      kept.splice(at, end - at);
      await Deno.writeTextFile(open, kept.join("\n"));
      return open;
    });
    await waitFor(async () => (await admin(last, { listDatabases: 1 })).ok === 1, 30_000);
    const r = await mup(["cluster", "display", "rs", "--json"], { home });
    assert.equal(r.code, 1, output(r));
    const d = JSON.parse(r.stdout) as Display & {
      security: { auth: boolean; without_access_control?: string[] };
    };
    assert.equal(d.healthy, false);
    assert.deepEqual(d.security.without_access_control, [id]);
    const row = d.processes.find((p) => p.id === id) as
      | (Display["processes"][number] & { no_access_control?: boolean })
      | undefined;
    assert.equal(row?.no_access_control, true, output(r));
    assert.match(row?.reason ?? "", /runs WITHOUT access control/);
    for (const p of d.processes.filter((p) => p.id !== id)) {
      assert.equal((p as { no_access_control?: boolean }).no_access_control, undefined);
    }
    const plain = await mup(["cluster", "display", "rs"], { home });
    assert.match(
      plain.stdout,
      new RegExp(`Security: access control on \\(except ${id}: no credentials asked\\)`),
    );
    assert.match(plain.stdout, new RegExp(`mup cluster stop rs -N ${id}\` then`));
    // A repair names that stop too, not a data_dir of the member's own (tester59 M4).
    const repair = await mup(
      deployArgs("rs", path.join(home, "rs.yaml"), await testMirror(), ["--dry-run"]),
      { home },
    );
    assert.equal(repair.code, 1, output(repair));
    assert.match(
      repair.stdout.replace(/\s+/g, " "),
      new RegExp(
        `not started with the configuration mup wrote for it .*mup cluster stop rs -N ${id}`,
      ),
    );
    assert.doesNotMatch(repair.stdout, /give the process a data_dir of its own/);
    // What the reason says restores it.
    await ok(home, ["cluster", "stop", "rs", "-N", id, "--auto-approve"]);
    await ok(home, ["cluster", "start", "rs", "-N", id, "--auto-approve"]);
    const mended = await display(home, "rs");
    assert.ok(mended.healthy, JSON.stringify(mended));
  } finally {
    await killAll(home);
  }
});

Deno.test("a shard removed outside mup (removeShard) is named by display with the deploy that adds it back, listed by plan diff (exit 2), and added back by that repair (tester59 H2)", async () => {
  const home = await tempHome();
  const ports = stablePorts(4);
  try {
    await deploy(home, "sh", smallShardedTopology(ports));
    const mongos = `localhost:${ports[3]}`;
    const cred = await clusterCredentials(home, "sh");
    await asAdmin(cred, mongos, async (c) => {
      await waitFor(async () => {
        const r = await c.db("admin").command({ removeShard: "shard2" });
        return r.state === "completed" || undefined;
      }, 30_000);
    });
    const d = await mup(["cluster", "display", "sh", "--json"], { home });
    assert.equal(d.code, 1, output(d));
    assert.deepEqual(JSON.parse(d.stdout).unlisted_shards, ["shard2"]);
    const text = await mup(["cluster", "display", "sh"], { home });
    assert.match(
      text.stdout.replace(/\s+/g, " "),
      /not listed: shard2 \(removed outside mup\? `mup cluster deploy sh \S+ --version [\d.]+` adds it back\)/,
    );
    const diff = await mup(["plan", "diff", "sh", "--detailed-exitcode"], { home });
    assert.equal(diff.code, 2, output(diff));
    assert.match(diff.stdout, /\+ shard +shard2 +\(not listed by the cluster live/);
    assert.doesNotMatch(diff.stdout, /No changes/);
    // Whatever the newest plan is: a start of the mongos (tester61).
    await ok(home, ["cluster", "stop", "sh", "-N", mongos, "--auto-approve"]);
    await ok(home, ["cluster", "start", "sh", "-N", mongos, "--auto-approve"]);
    const afterStart = await mup(["plan", "diff", "sh", "--detailed-exitcode"], { home });
    assert.equal(afterStart.code, 2, output(afterStart));
    assert.match(afterStart.stdout, /\+ shard +shard2 +\(not listed by the cluster live/);
    assert.match(
      afterStart.stdout,
      /A deploy of the topology sets it back: `mup cluster deploy sh /,
    );
    const repair = await mup(
      deployArgs("sh", path.join(home, "sh.yaml"), await testMirror(), ["--auto-approve"]),
      { home },
    );
    assert.equal(repair.code, 0, output(repair));
    assert.match(repair.stdout, /shard shard2 is not listed by the cluster .*adds it back/);
    const mended = await display(home, "sh");
    assert.ok(mended.healthy, JSON.stringify(mended));
    const again = await mup(["plan", "diff", "sh", "--detailed-exitcode"], { home });
    assert.equal(again.code, 0, output(again));
  } finally {
    await killAll(home);
  }
});

Deno.test("a repair over a member added by hand (rs.add) is refused before it runs, naming the rs.remove that no mup command does; once removed, nothing is left to repair (tester59 M2)", async () => {
  const home = await tempHome();
  const ports = stablePorts(4);
  try {
    await deploy(home, "rs", replicaSetTopology(ports.slice(0, 3)));
    const cred = await clusterCredentials(home, "rs");
    const stranger = `localhost:${ports[3]}`;
    const reconfig = (f: (members: Record<string, unknown>[]) => Record<string, unknown>[]) =>
      asAdmin(cred, `localhost:${ports[0]}`, async (c) => {
        const { config } = await c.db("admin").command({ replSetGetConfig: 1 });
        config.version += 1;
        config.members = f(config.members);
        await c.db("admin").command({ replSetReconfig: config });
      });
    await reconfig((m) => [...m, { _id: 9, host: stranger, priority: 0, votes: 0 }]);
    const args = deployArgs("rs", path.join(home, "rs.yaml"), await testMirror(), ["--dry-run"]);
    const refused = await mup(args, { home });
    assert.equal(refused.code, 1, output(refused));
    assert.match(
      refused.stdout.replace(/\s+/g, " "),
      new RegExp(
        `replica set rs0's configuration has ${stranger}, which cluster rs does not record .*` +
          `rs\\.remove\\("${stranger}"\\)`,
      ),
    );
    await reconfig((m) => m.filter((x) => x.host !== stranger));
    const clean = await mup(args, { home });
    assert.equal(clean.code, 0, output(clean));
    assert.match(clean.stdout, /No changes/);
  } finally {
    await killAll(home);
  }
});

Deno.test("display: a server of a cluster recorded without access control that asks for credentials (turned on by hand) is not called open: named on the Security line and in --json (tester59 H3)", async () => {
  const home = await tempHome();
  const [port] = stablePorts(1);
  try {
    await deploy(home, "sa", standaloneTopology([port], "global: { security: { auth: false } }\n"));
    const deployDir = path.join(clusterDir(home, "sa"), "deploy");
    const pid = (await display(home, "sa")).processes[0]?.pid;
    assert.ok(pid, "it runs");
    await restartByHand(deployDir, pid, async () => {
      const conf = path.join(deployDir, "conf", `mongod-${port}`, "mongod.conf");
      const locked = path.join(home, "locked.conf");
      await Deno.writeTextFile(
        locked,
        (await Deno.readTextFile(conf)) + "security:\n  authorization: enabled\n",
      );
      return locked;
    });
    const r = await waitFor(async () => {
      const x = await mup(["cluster", "display", "sa", "--json"], { home });
      return JSON.parse(x.stdout).processes?.[0]?.state === "RUNNING" ? x : undefined;
    }, 30_000);
    assert.equal(r.code, 1, output(r));
    const d = JSON.parse(r.stdout);
    assert.deepEqual(d.security.asking_credentials, [`localhost:${port}`]);
    assert.equal(d.processes[0].asks_credentials, true);
    assert.match(d.processes[0].reason, /asks for credentials, but cluster sa is recorded without/);
    const plain = await mup(["cluster", "display", "sa"], { home });
    assert.match(
      plain.stdout,
      new RegExp(
        `Security: no access control recorded, but localhost:${port} asks for credentials`,
      ),
    );
    // A repair would write the configuration without it: refused before it runs.
    const repair = await mup(
      deployArgs("sa", path.join(home, "sa.yaml"), await testMirror(), ["--dry-run"]),
      { home },
    );
    assert.equal(repair.code, 1, output(repair));
    assert.match(
      repair.stdout.replace(/\s+/g, " "),
      /asks for credentials, but cluster sa is recorded without access control .*a repair would write/,
    );
  } finally {
    await killAll(home);
  }
});

Deno.test("display: a member started by hand on its own configuration file edited to another port runs, and is said to listen there, not to be starting (tester61)", async () => {
  const home = await tempHome();
  const ports = stablePorts(4);
  try {
    await deploy(home, "rs", replicaSetTopology(ports.slice(0, 3)));
    const last = ports[2];
    const id = `localhost:${last}`;
    const deployDir = path.join(clusterDir(home, "rs"), "deploy");
    const pid = (await display(home, "rs")).processes.find((p) => p.id === id)?.pid;
    assert.ok(pid, "the member runs");
    await restartByHand(deployDir, pid, async () => {
      const conf = path.join(deployDir, "conf", `mongod-${last}`, "mongod.conf");
      const text = await Deno.readTextFile(conf);
      assert.match(text, new RegExp(`port: ${last}\\b`));
      await Deno.chmod(conf, 0o600);
      await Deno.writeTextFile(conf, text.replace(`port: ${last}`, `port: ${ports[3]}`));
      return conf;
    });
    await waitFor(async () => (await admin(ports[3], { ping: 1 })).ok === 1, 30_000);
    const r = await mup(["cluster", "display", "rs", "--json"], { home });
    const row = (JSON.parse(r.stdout) as Display).processes.find((p) => p.id === id);
    assert.equal(row?.state, "UNKNOWN", output(r));
    assert.match(
      row?.reason ?? "",
      new RegExp(`listening on \\S*:${ports[3]}, not on port ${last}`),
    );
    assert.match(row?.reason ?? "", new RegExp(`mup cluster stop rs -N ${id}`));
    assert.doesNotMatch(row?.reason ?? "", /does not listen yet/);
    // A start refuses it, naming its stop, then its start; that start would be refused for the
    // edited file, so the file and its repair are named too (tester61 M4).
    const s = await mup(["cluster", "start", "rs", "-N", id, "--dry-run"], { home });
    assert.equal(s.code, 1, output(s));
    assert.match(s.stdout, new RegExp(`${id} runs but does not answer`), output(s));
    assert.match(
      s.stdout,
      new RegExp(`mongod-${last}/mongod.conf of mongod-localhost-${last} differs from the one mup`),
      output(s),
    );
    assert.match(s.stdout, /mup cluster deploy rs .* \(a repair\)/, output(s));
  } finally {
    await killAll(home);
  }
});

Deno.test("display: a standalone whose admin password was changed outside mup answers, but mup's credentials no longer authenticate: not healthy, the reason shown, exit 2 with --detailed-exitcode", async () => {
  const home = await tempHome();
  const [port] = stablePorts(1);
  try {
    await deploy(home, "sa", standaloneTopology([port]));
    assert.ok((await display(home, "sa")).healthy);
    const cred = await clusterCredentials(home, "sa");
    await asAdmin(
      cred,
      `localhost:${port}`,
      (c) => c.db("admin").command({ updateUser: cred.user, pwd: "rotated-by-the-dba" }),
    );
    const r = await mup(["cluster", "display", "sa", "--json", "--detailed-exitcode"], { home });
    assert.equal(r.code, 2, output(r));
    const doc = JSON.parse(r.stdout) as Display;
    assert.equal(doc.healthy, false);
    const row = doc.processes.find((p) => p.id === `localhost:${port}`)!;
    assert.equal(row.state, "RUNNING");
    assert.equal(row.healthy, false);
    assert.match(String(row.reason), /admin credentials mup stores do not authenticate/);
    // A repair's review says so, naming the command that stores the password as it is now, with
    // the cluster's name (it printed a literal <name>: tester59 M3). (Not refused: a user
    // dropped by hand is what the repair creates again, repair_unwell_test.)
    const repair = await mup(
      deployArgs("sa", path.join(home, "sa.yaml"), await testMirror(), ["--dry-run"]),
      { home },
    );
    assert.match(
      repair.stdout.replace(/\s+/g, " "),
      /admin credentials mup stores do not authenticate here .*`mup cluster credentials sa --password-stdin`/,
    );
    assert.doesNotMatch(repair.stdout + repair.stderr, /<name>/);
  } finally {
    await killAll(home);
  }
});

Deno.test("display: a server that holds its port but does not answer (SIGSTOP) is named as the cluster's own and stopped, with the kill -CONT that resumes it and the command that ends it", async () => {
  const home = await tempHome();
  const [port] = stablePorts(1);
  let pid: number | undefined;
  try {
    await deploy(home, "hung", standaloneTopology([port]));
    pid = (await display(home, "hung")).processes[0].pid;
    assert.ok(pid, "the server runs");
    Deno.kill(pid, "SIGSTOP");
    const r = await mup(["cluster", "display", "hung", "--json", "--timeout", "2s"], { home });
    const row = (JSON.parse(r.stdout) as Display).processes[0];
    assert.equal(row.state, "DOWN", output(r));
    assert.match(
      row.reason ?? "",
      new RegExp(
        `its own server \\(PID ${pid}\\) holds port ${port} but does not answer: it is stopped ` +
          `\\(process state T\\S*; \`kill -CONT ${pid}\` on localhost resumes it\\), or ` +
          `\`mup cluster stop hung -N localhost:${port}\` ends it`,
      ),
      output(r),
    );
    assert.doesNotMatch(row.reason ?? "", /is held by/);
    // A start leaves a running server alone: it is refused, not "already running" (tester34 M3).
    const start = await mup(["cluster", "start", "hung", "--auto-approve"], { home });
    assert.equal(start.code, 1, output(start));
    assert.match(
      output(start).replace(/\s+/g, " "),
      new RegExp(
        `localhost:${port} runs but does not answer, and a start leaves a running server alone`,
      ),
    );
    assert.doesNotMatch(output(start), /already running|No changes/);
  } finally {
    if (pid) Deno.kill(pid, "SIGCONT");
    await killAll(home);
  }
});

Deno.test("a rolling restart after the keyfile was replaced (store and hosts) fails soon at the first member its set refuses, naming the restart --force that mends it; that restart makes the set healthy (tester47)", async () => {
  const home = await tempHome();
  const ports = stablePorts(3);
  try {
    await deploy(home, "rs", replicaSetTopology(ports));
    const key = "anotherkeyanotherkeyanotherkey\n";
    for (
      const f of [
        path.join(clusterDir(home, "rs"), "secrets", "keyfile"),
        path.join(clusterDir(home, "rs"), "deploy", "secrets", "keyfile"),
      ]
    ) {
      await Deno.chmod(f, 0o600);
      await Deno.writeTextFile(f, key);
      await Deno.chmod(f, 0o400);
    }
    const failed = await mup(["cluster", "restart", "rs", "--auto-approve"], { home });
    assert.equal(failed.code, 1, output(failed));
    const said = failed.stdout.replace(/\s+/g, " ");
    assert.match(
      said,
      /cannot become SECONDARY: the primary \S+ cannot reach it \([^)]*Authentication failed[^)]*\): it runs with another keyfile than the members of its set that stayed up/,
      output(failed),
    );
    assert.match(said, /`mup cluster restart rs --force` restarts them all at once/);
    await ok(home, ["cluster", "restart", "rs", "--force", "--auto-approve"]);
    assert.ok((await display(home, "rs")).healthy);
  } finally {
    await killAll(home);
  }
});

Deno.test("display: a set with fewer members up than an election needs says it cannot elect a primary and names the members down, not that an election may be under way (tester65)", async () => {
  const home = await tempHome();
  const ports = stablePorts(3);
  try {
    await deploy(home, "nq", replicaSetTopology(ports));
    // The primary (priority order: the first) and one secondary are killed.
    await killMember(home, "nq", ports[0]);
    await killMember(home, "nq", ports[1]);
    const survivor = `localhost:${ports[2]}`;
    const reason = await waitFor(async () => {
      const r = await mup(["cluster", "display", "nq", "--json"], { home });
      const row = (JSON.parse(r.stdout) as Display).processes.find((p) => p.id === survivor);
      return /cannot elect/.test(row?.reason ?? "") ? row!.reason : undefined;
    }, 60_000);
    assert.match(
      reason!,
      /the set has no primary and cannot elect one: 1 of its 3 members run and reach each other, and an election needs 2 votes/,
    );
    assert.match(reason!, new RegExp(`localhost:${ports[0]}`));
    assert.match(reason!, new RegExp(`localhost:${ports[1]}`));
    assert.doesNotMatch(reason!, /an election may be under way/);
    // The member that answers still says its FCV; the default write concern is said unknown,
    // not left out (tester85).
    const text = (await mup(["cluster", "display", "nq"], { home })).stdout;
    assert.match(text, /^Version: \S+ \(mongo\), feature compatibility \d+\.\d+/m);
    assert.match(text, /^Default write concern: unknown \(no primary answers to read it\)/m);
    // Nothing stopped them: the start that brings them back is named, and it does (tester98).
    const doc = JSON.parse((await mup(["cluster", "display", "nq", "--json"], { home })).stdout);
    // Unknown is null, as an unread FCV is, not a key left out (tester113 #6).
    assert.equal(doc.default_write_concern, null);
    const down = [`localhost:${ports[0]}`, `localhost:${ports[1]}`];
    assert.deepEqual([...doc.down_not_stopped.processes].sort(), down.sort());
    const start = doc.down_not_stopped.start;
    assert.equal(
      start,
      `mup cluster start nq ${
        doc.down_not_stopped.processes.map((id: string) => `-N ${id}`).join(" ")
      }`,
    );
    assert.ok(text.replace(/\s+/g, " ").includes(`\`${start}\` starts them again`), text);
    await ok(home, [...start.split(" ").slice(1), "--auto-approve"]);
    const after = await mup(["cluster", "display", "nq", "--json"], { home });
    assert.equal(JSON.parse(after.stdout).down_not_stopped, undefined, output(after));
  } finally {
    await killAll(home);
  }
});
