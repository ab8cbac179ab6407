/**
 * A host gone for good (tester74 #2): its sshd and its mongod are killed, as a dead machine
 * leaves them. Without `--host-gone` every plan is refused (mup does not plan on a guess); with
 * it, a scale-in removes its member through the primary and a destroy removes the rest, neither
 * doing anything on that host, and a host mup can reach is never taken as gone.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { freePorts, killAll, mup, output, tempHome } from "./helpers.ts";
import { clusterDir, meta, withClient } from "./apply_helpers.ts";
import { deploySetAcross, SET_HOSTS, type SshFixture, startSshFixture } from "./ssh_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

const HOSTS = SET_HOSTS;

/** A 3-member set, one member per address; then 127.0.0.3 dies (sshd and mongod killed). */
async function deployThenLose(home: string, f: SshFixture, p: number[]): Promise<void> {
  await deploySetAcross(home, f, p);
  const procs = (await meta(home, "c1")).processes as { host: string; pid_file: string }[];
  const lost = procs.find((x) => x.host === "127.0.0.3")!;
  const pid = Number((await Deno.readTextFile(lost.pid_file)).trim());
  await f.servers[1].kill(); // 127.0.0.3's sshd
  Deno.kill(pid, "SIGKILL");
  // The two that stay have (or elect) a primary: a write through the set waits for it.
  await withClient(
    `mongodb://127.0.0.1:${p[0]},127.0.0.2:${p[1]}/?replicaSet=rs0`,
    (c) => c.db("app").collection("t").insertOne({ before: true }),
    { home, cluster: "c1" },
  );
}

const exists = (p: string) => Deno.stat(p).then(() => true, () => false);

Deno.test({
  name:
    "host gone for good: plans are refused naming --host-gone; a scale-in with it removes the dead member through the primary and does nothing on its host; a reachable host is not taken as gone",
  sanitizeResources: false,
  async fn() {
    const home = await tempHome();
    const f = await startSshFixture();
    try {
      const p = freePorts(3);
      await deployThenLose(home, f, p);
      const stop = await mup(["cluster", "stop", "c1", "--auto-approve", ...f.flags()], { home });
      assert.equal(stop.code, 1, output(stop));
      assert.match(stop.stdout + stop.stderr, /127\.0\.0\.3 could not be asked whether/);
      assert.match(
        stop.stdout + stop.stderr,
        new RegExp(
          `If 127\\.0\\.0\\.3 is gone for good, \`mup cluster scale-in c1 -N 127\\.0\\.0\\.3:${
            p[2]
          } --host-gone 127\\.0\\.0\\.3\``,
        ),
      );

      // SSH cannot ask 127.0.0.3, but its port refuses connections: its member is known down,
      // and a restart of another member is judged with it down (tester75 #4).
      const restart = await mup(
        ["cluster", "restart", "c1", "-N", `127.0.0.2:${p[1]}`, "--plan-only", "--json"]
          .concat(f.flags()),
        { home },
      );
      assert.equal(restart.code, 0, output(restart));
      const judged = JSON.parse(restart.stdout.trim().split("\n").at(-1)!);
      const codes = ((judged.plan ?? judged).validation.warnings as { code: string }[])
        .map((w) => w.code);
      assert.ok(codes.includes("majority_at_risk"), codes.join());
      assert.ok(!codes.includes("votes_unknown"), codes.join());
      const node = `127.0.0.3:${p[2]}`;
      // --host-gone without -N: the hint names the processes to remove (tester96).
      const unnamed = await mup(
        ["cluster", "scale-in", "c1", "--host-gone", "127.0.0.3", "--plan-only", ...f.flags()],
        { home },
      );
      assert.equal(unnamed.code, 1, output(unnamed));
      assert.ok(
        unnamed.stderr.includes(`mup cluster scale-in c1 -N ${node} --host-gone 127.0.0.3`),
        output(unnamed),
      );
      // A flag taken for the host (its value left out) is said, not looked for.
      const swallowed = await mup(
        ["cluster", "scale-in", "c1", "-N", node, "--host-gone", "--plan-only", ...f.flags()],
        { home },
      );
      assert.equal(swallowed.code, 1, output(swallowed));
      assert.match(swallowed.stdout, /--host-gone --plan-only: a host name was expected/);
      const wrong = await mup(
        ["cluster", "scale-in", "c1", "-N", node, "--host-gone", "127.0.0.2", "--auto-approve"]
          .concat(f.flags()),
        { home },
      );
      assert.equal(wrong.code, 1, output(wrong));
      assert.match(
        wrong.stdout + wrong.stderr,
        /--host-gone 127\.0\.0\.2: mup reached 127\.0\.0\.2 and asked whether mongod-127\.0\.0\.2-\d+ runs: it is not gone/,
      );
      const unknown = await mup(
        ["cluster", "scale-in", "c1", "-N", node, "--host-gone", "10.9.9.9", "--json"]
          .concat(f.flags()),
        { home },
      );
      assert.equal(unknown.code, 1, output(unknown));
      assert.match(
        unknown.stdout,
        /--host-gone 10\.9\.9\.9: the cluster has no process on 10\.9\.9\.9/,
      );
      // Refused plans changed nothing: the set still lists three members.
      const members = () =>
        withClient(`mongodb://127.0.0.1:${p[0]}/?directConnection=true`, async (c) => {
          const cfg = await c.db("admin").command({ replSetGetConfig: 1 });
          return (cfg.config.members as { host: string }[]).map((m) => m.host).sort();
        }, { home, cluster: "c1" });
      assert.equal((await members()).length, 3);

      const r = await mup(
        ["cluster", "scale-in", "c1", "-N", node, "--host-gone", "127.0.0.3", "--auto-approve"]
          .concat(f.flags()),
        { home },
      );
      assert.equal(r.code, 0, output(r));
      assert.match(r.stdout, /127\.0\.0\.3 is taken as gone for good \(--host-gone\)/);
      assert.deepEqual(await members(), [`127.0.0.1:${p[0]}`, `127.0.0.2:${p[1]}`]);
      const recorded = await meta(home, "c1");
      const after = recorded.processes as { host: string }[];
      assert.deepEqual(after.map((x) => x.host).sort(), ["127.0.0.1", "127.0.0.2"]);
      // What was left there stays named: in the metadata, and by display.
      const forgotten = recorded.forgotten as { id: string; host: string; paths: string[] }[];
      assert.deepEqual(forgotten.map((x) => [x.id, x.host]), [[
        `mongod-127.0.0.3-${p[2]}`,
        "127.0.0.3",
      ]]);
      assert.ok(
        forgotten[0].paths.some((d) => d.endsWith(`mongod-${p[2]}`)),
        forgotten[0].paths.join(),
      );
      const shown = await mup(["cluster", "display", "c1", ...f.flags()], { home });
      assert.equal(shown.code, 0, output(shown));
      assert.match(
        shown.stdout,
        new RegExp(
          `127\\.0\\.0\\.3 was taken as gone for good \\(scale-in --host-gone, .*mongod-127\\.0\\.0\\.3-${
            p[2]
          } .*never stopped there`,
        ),
      );
      // Nothing was done on the gone host: its member's files are where they were.
      const dirs = path.join(clusterDir(home, "c1"), "deploy");
      const left: string[] = [];
      for await (const e of Deno.readDir(path.join(dirs, "data"))) left.push(e.name);
      assert.ok(left.some((n) => n.includes(String(p[2]))), left.join(", "));
      // The cluster that stays takes majority writes.
      await withClient(
        `mongodb://127.0.0.1:${p[0]},127.0.0.2:${p[1]}/?replicaSet=rs0`,
        (c) =>
          c.db("app").collection("t").insertOne({ after: true }, {
            writeConcern: { w: "majority" },
          }),
        { home, cluster: "c1" },
      );
    } finally {
      await killAll(home);
      await f.close();
    }
  },
});

Deno.test({
  name:
    "host gone for good: a saved destroy plan with --host-gone is applied without reaching that host, removes the rest and the metadata, and leaves the gone host's files",
  sanitizeResources: false,
  async fn() {
    const home = await tempHome();
    const f = await startSshFixture();
    try {
      const p = freePorts(3);
      await deployThenLose(home, f, p);
      const refused = await mup(["cluster", "destroy", "c1", "--auto-approve", ...f.flags()], {
        home,
      });
      assert.equal(refused.code, 1, output(refused));
      assert.match(
        refused.stdout + refused.stderr,
        /`mup cluster destroy c1 --host-gone 127\.0\.0\.3` removes the rest/,
      );
      const planned = await mup(
        ["cluster", "destroy", "c1", "--host-gone", "127.0.0.3", "--plan-only", "--json"]
          .concat(f.flags()),
        { home },
      );
      assert.equal(planned.code, 0, output(planned));
      const doc = JSON.parse(planned.stdout.trim().split("\n").at(-1)!);
      const plan = doc.plan ?? doc;
      assert.deepEqual(plan.request?.gone_hosts, ["127.0.0.3"]);
      const ops = (plan.phases as { operations: { target: { host?: string } }[] }[])
        .flatMap((ph) => ph.operations);
      assert.ok(!ops.some((o) => o.target.host === "127.0.0.3"), JSON.stringify(ops));
      const dirs = path.join(clusterDir(home, "c1"), "deploy");
      // The host answering again before the apply: the plan would forget what may run there.
      await f.servers[1].start();
      const back = await mup(["plan", "apply", plan.plan_id, "--auto-approve", ...f.flags()], {
        home,
      });
      assert.equal(back.code, 1, output(back));
      assert.match(
        back.stderr,
        /127\.0\.0\.3 answers over SSH again, but this plan takes it as gone for good \(--host-gone\)/,
      );
      assert.match(
        back.stderr,
        /plan again without --host-gone for it \(`mup cluster destroy c1`\)/,
      );
      assert.ok(await exists(path.join(clusterDir(home, "c1"), "meta.yaml")));
      await f.servers[1].kill();
      const r = await mup(["plan", "apply", plan.plan_id, "--auto-approve", ...f.flags()], {
        home,
      });
      assert.equal(r.code, 0, output(r));
      assert.ok(!(await exists(path.join(clusterDir(home, "c1"), "meta.yaml"))));
      const left: string[] = [];
      for await (const e of Deno.readDir(path.join(dirs, "data"))) left.push(e.name);
      assert.deepEqual(left, [`mongod-${p[2]}`]);
      for (const i of [0, 1]) {
        const at = { hostname: HOSTS[i], port: p[i] };
        await assert.rejects(Deno.connect(at).then((c) => c.close()), JSON.stringify(at));
      }
    } finally {
      await killAll(home);
      await f.close();
    }
  },
});
