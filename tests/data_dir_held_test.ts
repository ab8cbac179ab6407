/**
 * A data directory a live mongod holds (its mongod.lock) is never taken or removed: two
 * operators (two MUP_HOMEs, whose claims cannot see each other) pointing clusters at one
 * data_dir; a destroy of a first deploy that failed; a mongod started by hand.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { freePorts, killAll, mup, output, portFree, tempHome } from "./helpers.ts";
import { deploy } from "./faults_helpers.ts";
import { ok } from "./lifecycle_helpers.ts";
import { installFixture, trackChild } from "./fixture.ts";
import { runBin, simBin } from "./sim_helpers.ts";

installFixture();

const exists = (p: string) => Deno.stat(p).then(() => true, () => false);
const entries = async (d: string) =>
  (await Array.fromAsync(Deno.readDir(d))).map((e) => e.name).sort();
const onData = (port: number, data: string) =>
  `mongod_servers:\n  - { host: localhost, port: ${port}, data_dir: ${data} }\n`;
/** The PID in a data directory's mongod.lock. */
const lockPid = async (data: string) =>
  Number((await Deno.readTextFile(path.join(data, "mongod.lock"))).trim());

/**
 * Two stores (MUP_HOMEs, whose claims cannot see each other) and a directory of the first's that
 * both point clusters at; whatever the test leaves running is killed afterwards.
 */
async function twoStores(
  test: (s: { h3: string; h4: string; data: string }) => Promise<void>,
): Promise<void> {
  const h3 = await tempHome();
  const h4 = await tempHome();
  try {
    const data = path.join(h3, "shared-data");
    await Deno.mkdir(data);
    await test({ h3, h4, data });
  } finally {
    await killAll(h3);
    await killAll(h4);
  }
}

Deno.test("plan apply of a deploy is refused, before it starts anything, on a data directory another store's mongod took since planning", async () => {
  await twoStores(async ({ h3, h4, data }) => {
    const [p1, p2] = freePorts(2);
    assert.equal((await deploy(h3, "d1", onData(p1, data), ["--plan-only"])).code, 0);
    assert.equal((await deploy(h4, "d2", onData(p2, data), ["--plan-only"])).code, 0);
    await ok(h3, ["plan", "apply", "d1", "--auto-approve"]);
    const pid = await lockPid(data);

    const applied = await mup(["plan", "apply", "d2", "--auto-approve"], { home: h4 });
    assert.equal(applied.code, 1, output(applied));
    assert.match(
      applied.stderr,
      new RegExp(
        `data directory localhost:${data} of localhost:${p2} is in use by a running mongod PID ${pid}`,
      ),
    );
    assert.match(applied.stderr, /a data_dir of its own/);
    assert.ok(portFree(p2), "nothing of d2 started");
    // Nothing was recorded: there is nothing of d2 to destroy.
    const list = JSON.parse((await ok(h4, ["cluster", "list", "--json"])).stdout);
    assert.deepEqual(list, []);
    // Planned now, it is refused at pre-flight too.
    const again = await deploy(h4, "d2", onData(p2, data), ["--plan-only"]);
    assert.equal(again.code, 1, output(again));
    assert.match(again.stdout + again.stderr, /in use by a running mongod PID/);
    // The data is d1's, live: nothing offers to remove it (a pasted `rm -rf` would wipe it).
    assert.doesNotMatch(again.stdout + again.stderr, /rm -rf|remove the data/, output(again));
  });
});

Deno.test("plan resume of a deploy is refused, before it starts anything, on a data directory another store's mongod took since the apply stopped", async () => {
  await twoStores(async ({ h3, h4, data }) => {
    const [p1, p2] = freePorts(2);
    assert.equal((await deploy(h3, "d1", onData(p1, data), ["--plan-only"])).code, 0);
    // d2's mongod exits at startup: its apply fails there, holding nothing.
    const failed = await deploy(h4, "d2", onData(p2, data), [], { MUP_SIM_CRASH_AT_STARTUP: "14" });
    assert.equal(failed.code, 1, output(failed));
    await ok(h3, ["plan", "apply", "d1", "--auto-approve"]);
    const pid = await lockPid(data);

    const resumed = await mup(["plan", "resume", "d2", "--auto-approve"], { home: h4 });
    assert.equal(resumed.code, 1, output(resumed));
    assert.match(
      resumed.stderr,
      new RegExp(
        `data directory localhost:${data} of localhost:${p2} is in use by a running mongod PID ${pid}`,
      ),
      output(resumed),
    );
    assert.ok(portFree(p2), "nothing of d2 started");
    assert.equal(await lockPid(data), pid, "d1's mongod still holds it");
  });
});

Deno.test("a data_dir inside another cluster's data directory is refused at planning: the same store's by its claims, another store's by the live mongod there", async () => {
  await twoStores(async ({ h3, h4, data }) => {
    const [p1, p2, p3] = freePorts(3);
    assert.equal((await deploy(h3, "d1", onData(p1, data))).code, 0);
    const pid = await lockPid(data);
    const inside = path.join(data, "sub");
    const same = await deploy(h3, "n1", onData(p2, inside), ["--plan-only"]);
    assert.equal(same.code, 1, output(same));
    assert.match(
      same.stdout + same.stderr,
      new RegExp(`data directory ${inside} lies inside data directory ${data} of cluster d1`),
      output(same),
    );
    const other = await deploy(h4, "n2", onData(p3, inside), ["--plan-only"]);
    assert.equal(other.code, 1, output(other));
    assert.match(
      other.stdout + other.stderr,
      new RegExp(
        `data directory localhost:${inside} of localhost:${p3} lies inside ${data}, the data ` +
          `directory of a running mongod PID ${pid}`,
      ),
      output(other),
    );
    assert.doesNotMatch(other.stdout + other.stderr, /rm -rf/, output(other));
    assert.ok(!(await exists(inside)), "nothing was made inside d1's data");
  });
});

Deno.test("destroying a first deploy that failed keeps a data directory it found and never ran a mongod on, which another store's mongod now uses", async () => {
  await twoStores(async ({ h3, h4, data }) => {
    const [p1, p2] = freePorts(2);
    // d2's first deploy fails at its mongod's start: the directory stays as it was, empty.
    const failed = await deploy(h4, "d2", onData(p2, data), [], {
      MUP_SIM_CRASH_AT_STARTUP: "14",
      MUP_SIM_FAULT_PORTS: String(p2),
    });
    assert.equal(failed.code, 1, output(failed));
    assert.deepEqual(await entries(data), []);
    const d1 = await deploy(h3, "d1", onData(p1, data));
    assert.equal(d1.code, 0, output(d1));
    const before = await entries(data);

    const destroyed = await ok(h4, ["cluster", "destroy", "d2", "--auto-approve"]);
    assert.match(
      destroyed.stdout + destroyed.stderr,
      new RegExp(`not removed: data directory localhost:${data} .*no apply of cluster d2 created`),
    );
    assert.deepEqual(await entries(data), before);
    const shown = await mup(["cluster", "display", "d1", "--json"], { home: h3 });
    assert.equal(shown.code, 0, output(shown));
  });
});

Deno.test("a destroy keeps a data directory a live mongod holds, naming it, and removes the rest", async () => {
  const home = await tempHome();
  try {
    const data = path.join(home, "data-c");
    const [p, q] = freePorts(2);
    const deployed = await deploy(home, "c", onData(p, data));
    assert.equal(deployed.code, 0, output(deployed));
    await ok(home, ["cluster", "stop", "c", "--auto-approve"]);
    // Someone starts a mongod by hand on the stopped cluster's data.
    const bin = await simBin("7.0.5");
    const started = await runBin(path.join(bin, "mongod"), [
      ...["--port", String(q), "--dbpath", data, "--fork"],
      ...["--logpath", path.join(home, "by-hand.log")],
      ...["--pidfilepath", path.join(home, "by-hand.pid")],
    ]);
    assert.equal(started.code, 0, output(started));
    const pid = await lockPid(data);
    const before = await entries(data);

    const destroyed = await ok(home, ["cluster", "destroy", "c", "--auto-approve"]);
    assert.match(
      destroyed.stdout + destroyed.stderr,
      new RegExp(`kept localhost:${data}: a running mongod PID ${pid} .*holds it`),
    );
    assert.deepEqual(await entries(data), before);
    // The cluster's own directories went (its default deploy root, logs and configuration).
    const deployRoot = path.join(home, "storage", "clusters", "c", "deploy");
    assert.ok(!(await exists(path.join(deployRoot, "logs"))), "logs removed");
    assert.ok(!(await exists(path.join(deployRoot, "bin"))), "binaries removed");
  } finally {
    await killAll(home);
  }
});

Deno.test("a data directory a live mongod has just taken (its lock file alone written yet) is refused as in use by that mongod, not as someone else's files", async () => {
  const home = await tempHome();
  const sleeper = trackChild(
    new Deno.Command("bash", { args: ["-c", "exec -a mongod sleep 60"] }).spawn(),
  );
  try {
    const data = path.join(home, "fresh");
    await Deno.mkdir(data);
    await Deno.writeTextFile(path.join(data, "mongod.lock"), `${sleeper.pid}\n`);
    const [p] = freePorts(1);
    const planned = await deploy(home, "f1", onData(p, data), ["--plan-only"]);
    assert.equal(planned.code, 1, output(planned));
    assert.match(
      planned.stdout + planned.stderr,
      new RegExp(`is in use by a running mongod PID ${sleeper.pid}`),
      output(planned),
    );
    assert.doesNotMatch(planned.stdout + planned.stderr, /not MongoDB data/, output(planned));
  } finally {
    sleeper.kill("SIGKILL");
    await sleeper.status;
    await killAll(home);
  }
});
