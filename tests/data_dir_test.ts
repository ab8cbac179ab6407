/**
 * A first deploy never takes over a directory that is not its own: an entry's data_dir that holds
 * someone else's files is refused at pre-flight (destroy would remove them), a system directory
 * is refused by validation; an empty directory is fine. A repair never starts a member whose
 * recorded data directory is gone (it would come back empty; tests/emptied_data_test.ts).
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import {
  deployArgs,
  freePorts,
  killAll,
  mup,
  output,
  standaloneTopology,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { installFixture } from "./fixture.ts";
import { withClient } from "./apply_helpers.ts";
import { ok } from "./lifecycle_helpers.ts";

installFixture();

Deno.test("deploy refuses a data_dir holding other files (naming them) and a system directory; an empty data_dir plans", async () => {
  const home = await tempHome();
  const [port] = freePorts(1);
  try {
    const dir = `${home}/existing`;
    await Deno.mkdir(dir);
    await Deno.writeTextFile(`${dir}/notes.txt`, "precious\n");
    const topo = (d: string) =>
      writeTopology(
        home,
        `t-${port}.yaml`,
        standaloneTopology([port], `    data_dir: ${d}\n`),
      );
    const plan = async (file: string) =>
      mup(deployArgs("dd", file, await testMirror(), ["--plan-only", "--json"]), { home });

    const taken = await mup(
      deployArgs("dd", await topo(dir), await testMirror(), ["--plan-only"]),
      { home },
    );
    assert.equal(taken.code, 1, output(taken));
    assert.match(
      taken.stdout + taken.stderr,
      /already holds files that are not MongoDB data \(notes\.txt\)/,
    );
    assert.equal(await Deno.readTextFile(`${dir}/notes.txt`), "precious\n", "nothing touched");
    // A dry run of it shows the errors, never what it "would execute".
    const dry = await mup(
      deployArgs("dd", await topo(dir), await testMirror(), ["--dry-run"]),
      { home },
    );
    assert.equal(dry.code, 1, output(dry));
    assert.match(dry.stdout, /Pre-flight checks failed; the plan cannot be applied/);
    assert.doesNotMatch(dry.stdout, /Would execute/);

    const system = await mup(
      deployArgs("dd", await topo("/tmp"), await testMirror(), ["--plan-only"]),
      { home },
    );
    assert.equal(system.code, 1, output(system));
    assert.match(system.stderr, /data_dir \/tmp is a system directory/);
    // The global deploy_dir is the deploy root itself (bin/ and the processes' directories go
    // straight in; destroy removes it once empty): a system directory there is refused by
    // validation and by a deploy, before any directory is made.
    const before = [...Deno.readDirSync("/srv")].map((e) => e.name).sort();
    for (const root of ["/srv", "/usr/", "/"]) {
      const file = await writeTopology(
        home,
        "root.yaml",
        `global:\n  deploy_dir: ${root}\n` + standaloneTopology([port]),
      );
      const checked = await mup(["topology", "validate", file], { home });
      assert.equal(checked.code, 1, output(checked));
      assert.match(
        checked.stdout + checked.stderr,
        /global\.deploy_dir.*deploy_dir \/(srv|usr\/)? is a system directory: it is the deploy root/s,
      );
      const deployed = await mup(deployArgs("dd", file, await testMirror(), ["--auto-approve"]), {
        home,
      });
      assert.equal(deployed.code, 1, output(deployed));
      assert.match(deployed.stderr, /is a system directory: it is the deploy root/);
    }
    assert.deepEqual([...Deno.readDirSync("/srv")].map((e) => e.name).sort(), before);

    await Deno.remove(`${dir}/notes.txt`);
    const empty = await plan(await topo(dir));
    assert.equal(empty.code, 0, output(empty));
    const text = await mup(
      deployArgs("dd", await topo(dir), await testMirror(), ["--plan-only"]),
      { home },
    );
    assert.match(text.stdout, /All ports available \(1 port on 1 host\)/, output(text));
  } finally {
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
});

Deno.test("pre-flight refuses a data or log directory that cannot be created (a file in the way), naming the host, the directory and why", async () => {
  const home = await tempHome();
  const [port] = freePorts(1);
  try {
    const blocker = `${home}/a-file`;
    await Deno.writeTextFile(blocker, "not a directory\n");
    const topo = await writeTopology(
      home,
      "blocked.yaml",
      `mongod_servers:\n  - { host: localhost, port: ${port}, data_dir: ${blocker}/db, ` +
        `log_dir: ${blocker}/log }\n`,
    );
    const r = await mup(deployArgs("dd", topo, await testMirror(), ["--auto-approve"]), { home });
    assert.equal(r.code, 1, output(r));
    assert.match(r.stdout, /✗ 2 directories cannot be created or written/);
    for (const [what, sub, field] of [["data", "db", "data_dir"], ["log", "log", "log_dir"]]) {
      assert.ok(
        r.stdout.includes(
          `${what} directory localhost:${blocker}/${sub} of mongod-localhost-${port} cannot be ` +
            `created: ${blocker} is in the way: it exists and is not a directory. Move ` +
            `${blocker} away, or give the process another ${field}`,
        ),
        output(r),
      );
    }
    assert.doesNotMatch(r.stdout, /Applying plan/, "refused before anything runs");
  } finally {
    await killAll(home);
  }
});

Deno.test("a repair of a cluster whose recorded data directory is gone is refused, naming it; so is an empty directory made by the operator (a standalone's data is gone)", async () => {
  const home = await tempHome();
  const [port] = freePorts(1);
  try {
    const dir = `${home}/data-${port}`;
    const file = await writeTopology(
      home,
      "st.yaml",
      standaloneTopology([port], `    data_dir: ${dir}\n`),
    );
    const args = (extra: string[]) => deployArgs("st", file, mirror, extra);
    const mirror = await testMirror();
    const deployed = await mup(args(["--auto-approve"]), { home });
    assert.equal(deployed.code, 0, output(deployed));
    const stopped = await mup(["cluster", "stop", "st", "--auto-approve"], { home });
    assert.equal(stopped.code, 0, output(stopped));
    await Deno.remove(dir, { recursive: true });

    const gone = await mup(args(["--plan-only", "--json"]), { home });
    assert.equal(gone.code, 1, output(gone));
    const doc = JSON.parse(gone.stdout);
    assert.match(doc.error, new RegExp(`data directory localhost:${dir} of \\S+ is missing`));
    assert.match(doc.error, /mup cluster destroy st/);
    assert.equal(await Deno.stat(dir).catch(() => null), null, "nothing was created");
    // `cluster start` is refused the same way, before anything is approved or started.
    const start = await mup(["cluster", "start", "st", "--auto-approve"], { home });
    assert.equal(start.code, 1, output(start));
    assert.match(start.stdout, new RegExp(`data directory localhost:${dir} of \\S+ is missing`));
    assert.doesNotMatch(start.stdout, /Applying plan/);
    // So is a log directory with a file in its place.
    const logs = `${home}/storage/clusters/st/deploy/logs`;
    await Deno.mkdir(dir);
    const logDir = (await Array.fromAsync(Deno.readDir(logs)))[0].name;
    await Deno.remove(`${logs}/${logDir}`, { recursive: true });
    await Deno.writeTextFile(`${logs}/${logDir}`, "in the way");
    const blocked = await mup(["cluster", "start", "st", "--auto-approve"], { home });
    assert.equal(blocked.code, 1, output(blocked));
    assert.match(blocked.stdout, new RegExp(`${logs}/${logDir}`));
    assert.match(blocked.stdout, /cannot be written: .* is in the way/);
    await Deno.remove(`${logs}/${logDir}`);
    await Deno.remove(dir);

    // An empty one is refused too: a standalone has no member to copy its data from again.
    await Deno.mkdir(dir);
    const empty = await mup(args(["--plan-only", "--json"]), { home });
    assert.equal(empty.code, 1, output(empty));
    assert.match(
      JSON.parse(empty.stdout).error,
      new RegExp(
        `the data of standalone \\S+ is gone: data directory localhost:${dir} of \\S+ is empty`,
      ),
    );
  } finally {
    await killAll(home);
  }
});

Deno.test("a log, config or deploy directory a server names: refused at the first deploy when it holds other files; destroy removes only mup's files from it", async () => {
  const home = await tempHome();
  const [port] = freePorts(1);
  try {
    const own = (d: string) => `${home}/${d}`;
    for (const d of ["logs", "conf", "run"]) await Deno.mkdir(own(d));
    await Deno.writeTextFile(own("logs/app.log"), "someone else's log\n");
    const file = await writeTopology(
      home,
      "own.yaml",
      `mongod_servers:\n  - { host: localhost, port: ${port}, log_dir: ${own("logs")}, ` +
        `config_dir: ${own("conf")}, deploy_dir: ${own("run")} }\n`,
    );
    const mirror = await testMirror();
    const refused = await mup(deployArgs("od", file, mirror, ["--auto-approve"]), { home });
    assert.equal(refused.code, 1, output(refused));
    assert.ok(
      refused.stdout.includes(
        `log directory localhost:${own("logs")} of mongod-localhost-${port} already holds ` +
          "files mup did not make (app.log)",
      ),
      output(refused),
    );
    assert.doesNotMatch(refused.stdout, /Applying plan/, "refused before anything runs");

    // Emptied, it deploys; files put there afterwards survive the destroy, mup's go.
    await Deno.remove(own("logs/app.log"));
    const deployed = await mup(deployArgs("od", file, mirror, ["--auto-approve"]), { home });
    assert.equal(deployed.code, 0, output(deployed));
    assert.ok(await Deno.stat(own("logs/mongod.log")), "mongod logs where the topology says");
    await Deno.writeTextFile(own("logs/app.log"), "someone else's log\n");
    await Deno.writeTextFile(own("conf/keep.conf"), "mine\n");
    const destroyed = await mup(["cluster", "destroy", "od", "--auto-approve"], { home });
    assert.equal(destroyed.code, 0, output(destroyed));
    assert.match(destroyed.stdout, /Kept \(mup removed only its own files/, output(destroyed));
    const kept = (d: string, what: string) =>
      destroyed.stdout.includes(
        `  kept localhost:${own(d)}: it holds files mup did not make (${what})`,
      );
    assert.ok(kept("logs", "app.log"), output(destroyed));
    assert.ok(kept("conf", "keep.conf"), output(destroyed));
    assert.equal(await Deno.readTextFile(own("logs/app.log")), "someone else's log\n");
    assert.equal(await Deno.readTextFile(own("conf/keep.conf")), "mine\n");
    const left = async (d: string) =>
      (await Array.fromAsync(Deno.readDir(own(d)))).map((e) => e.name).sort();
    assert.deepEqual(await left("logs"), ["app.log"], "mongod.log removed, app.log kept");
    assert.deepEqual(await left("conf"), ["keep.conf"], "mongod.conf removed");
    assert.equal(await Deno.stat(own("run")).catch(() => null), null, "emptied: removed");
  } finally {
    await killAll(home);
  }
});

Deno.test("destroy keeps the operator's files in a default config directory, the secrets directory and the deploy root, removes mup's, and names what it kept (plain and --json)", async () => {
  const home = await tempHome();
  const [port] = freePorts(1);
  try {
    const srv = `${home}/srv`;
    const conf = `${srv}/conf/mongod-${port}`;
    const mine = {
      [`${srv}/secrets/my-app-tls.pem`]: "the app's certificate\n",
      [`${conf}/override.conf`]: "mine\n",
      [`${srv}/README.txt`]: "what this machine is for\n",
      // A name with a newline is one name, shown quoted (tester63 L3).
      [`${conf}/old\nmongod.conf`]: "mine too\n",
    };
    const putMine = async () => {
      for (const [f, text] of Object.entries(mine)) {
        await Deno.mkdir(f.slice(0, f.lastIndexOf("/")), { recursive: true });
        await Deno.writeTextFile(f, text);
      }
    };
    await putMine();
    const file = await writeTopology(
      home,
      "keep.yaml",
      `global:\n  deploy_dir: ${srv}\nmongod_servers:\n  - host: localhost\n    port: ${port}\n`,
    );
    const mirror = await testMirror();
    const deployed = await mup(deployArgs("kp", file, mirror, ["--auto-approve"]), { home });
    assert.equal(deployed.code, 0, output(deployed));
    const names = async (d: string) =>
      (await Array.fromAsync(Deno.readDir(d))).map((e) => e.name).sort();
    assert.deepEqual(await names(`${srv}/secrets`), ["keyfile", "my-app-tls.pem"], "auth on");
    assert.deepEqual(await names(conf), ["mongod.conf", "old\nmongod.conf", "override.conf"]);
    // What a keyfile write cut off leaves is mup's too.
    await Deno.writeTextFile(`${srv}/secrets/keyfile.mup-tmp`, "half a keyfile");

    const destroyed = await mup(["cluster", "destroy", "kp", "--auto-approve"], { home });
    assert.equal(destroyed.code, 0, output(destroyed));
    const summary = destroyed.stdout.slice(destroyed.stdout.indexOf("Kept ("));
    assert.match(summary, /^Kept \(mup removed only its own files/, output(destroyed));
    for (
      const line of [
        `  kept localhost:${srv}/secrets: it holds files mup did not make (my-app-tls.pem)`,
        `  kept localhost:${conf}: it holds files mup did not make ("old\\nmongod.conf", override.conf)`,
        `  kept localhost:${srv}: it holds entries that are not this cluster's (README.txt)`,
      ]
    ) assert.ok(summary.includes(line), `${line}\n${output(destroyed)}`);
    // The parents holding only the directories kept above say nothing more.
    assert.doesNotMatch(summary, new RegExp(`kept localhost:${srv}/conf:`), output(destroyed));
    for (const [f, text] of Object.entries(mine)) assert.equal(await Deno.readTextFile(f), text);
    assert.deepEqual(await names(srv), ["README.txt", "conf", "secrets"], "logs, data, bin gone");
    assert.deepEqual(await names(`${srv}/secrets`), ["my-app-tls.pem"], "the keyfile removed");
    assert.deepEqual(await names(`${srv}/conf`), [`mongod-${port}`]);
    assert.deepEqual(
      await names(conf),
      ["old\nmongod.conf", "override.conf"],
      "mongod.conf removed",
    );

    // The same under --json: the kept directories are the remove operations' notices.
    const again = await mup(deployArgs("kp", file, mirror, ["--auto-approve"]), { home });
    assert.equal(again.code, 0, output(again));
    const json = await mup(["cluster", "destroy", "kp", "--auto-approve", "--json"], { home });
    assert.equal(json.code, 0, output(json));
    const events = json.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l));
    const notices = events.filter((e) => e.notice).map((e) => e.notice).sort();
    assert.deepEqual(
      notices,
      [
        `kept localhost:${srv}: it holds entries that are not this cluster's (README.txt)`,
        `kept localhost:${conf}: it holds files mup did not make ("old\\nmongod.conf", override.conf)`,
        `kept localhost:${srv}/secrets: it holds files mup did not make (my-app-tls.pem)`,
      ].sort(),
      output(json),
    );
    for (const [f, text] of Object.entries(mine)) assert.equal(await Deno.readTextFile(f), text);
    assert.deepEqual(await names(`${srv}/secrets`), ["my-app-tls.pem"]);
  } finally {
    await killAll(home);
  }
});

Deno.test("a data_dir inside (or equal to) the entry's own log or config directory: destroy --retain-data keeps it and says so, and the deploy onto it is not refused; under another cluster's name it is, naming the cluster that kept it", async () => {
  const home = await tempHome();
  const [port] = freePorts(1);
  try {
    const srv = `${home}/srv`;
    const file = await writeTopology(
      home,
      "nested.yaml",
      `mongod_servers:\n  - { host: localhost, port: ${port}, log_dir: ${srv}, ` +
        `data_dir: ${srv}/data, config_dir: ${srv}/data }\n`,
    );
    const mirror = await testMirror();
    const deployed = await mup(deployArgs("nd", file, mirror, ["--auto-approve"]), { home });
    assert.equal(deployed.code, 0, output(deployed));
    const uri = JSON.parse((await mup(["cluster", "display", "nd", "--json"], { home })).stdout)
      .connection_string;
    await withClient(
      uri,
      (c) => c.db("t").collection("k").insertOne({ _id: 1, v: "nested" } as never),
      { home, cluster: "nd" },
    );
    const destroyed = await mup(
      ["cluster", "destroy", "nd", "--auto-approve", "--retain-data"],
      { home },
    );
    assert.equal(destroyed.code, 0, output(destroyed));
    assert.ok(
      destroyed.stdout.includes(`  kept localhost:${srv}: it holds the retained data`),
      output(destroyed),
    );
    assert.ok(
      destroyed.stdout.includes(`  kept localhost:${srv}/data: it holds the retained data`),
      output(destroyed),
    );
    assert.doesNotMatch(destroyed.stdout, /did not make/, "the data is not someone else's");
    assert.deepEqual(
      (await Array.fromAsync(Deno.readDir(srv))).map((e) => e.name),
      ["data"],
      "mongod.log removed, the data kept",
    );

    // The same data_dir under another cluster's name: refused, naming the cluster whose secrets
    // the data's users were made with (not the new name's archive, which never existed).
    const other = await mup(deployArgs("other", file, mirror, ["--auto-approve"]), { home });
    assert.equal(other.code, 1, output(other));
    assert.match(
      output(other),
      new RegExp(
        `data directory localhost:${srv}/data holds MongoDB data, which \`mup cluster destroy nd ` +
          `--retain-data\` kept: its users were created with the secrets of cluster nd \\(archived ` +
          `in .*/archive/nd-plan-[0-9a-f]+\\), which a cluster named other does not reuse\\. ` +
          `To deploy onto this data, deploy it as nd`,
      ),
    );
    assert.doesNotMatch(output(other), /no archive of cluster other/);
    assert.equal(
      await Deno.stat(`${home}/storage/clusters/other`).catch(() => null),
      null,
      "a cluster never deployed has no directory",
    );

    const again = await mup(deployArgs("nd", file, mirror, ["--auto-approve"]), { home });
    assert.equal(again.code, 0, output(again));
    const doc = await withClient(
      uri,
      (c) => c.db("t").collection("k").findOne({ _id: 1 } as never),
      { home, cluster: "nd" },
    );
    assert.equal(doc?.v, "nested");
  } finally {
    await killAll(home);
  }
});

Deno.test("a deploy root or data directory inside mup's store (another cluster's directory) or cache is refused; the other cluster's keyfile is untouched", async () => {
  const home = await tempHome();
  const [a, b] = freePorts(2);
  try {
    await ok(
      home,
      deployArgs(
        "a1",
        await writeTopology(home, "a1.yaml", standaloneTopology([a])),
        await testMirror(),
        [
          "--auto-approve",
        ],
      ),
    );
    const a1 = path.join(home, "storage", "clusters", "a1");
    const keyfile = await Deno.readFile(path.join(a1, "secrets", "keyfile"));
    const refused = async (extra: string, what: RegExp) => {
      const file = await writeTopology(home, "b1.yaml", extra + standaloneTopology([b]));
      const r = await mup(deployArgs("b1", file, await testMirror(), ["--auto-approve"]), { home });
      assert.equal(r.code, 1, output(r));
      assert.match(r.stdout + r.stderr, what, output(r));
      assert.doesNotMatch(r.stdout, /Applying plan/);
    };
    await refused(
      `global:\n  deploy_dir: ${a1}\n`,
      new RegExp(`deploy_dir ${a1} is inside mup's store ${path.join(home, "storage")}`),
    );
    await refused(
      `global:\n  data_dir: ${path.join(home, "cache", "x")}\n`,
      /the data directory of mongod-localhost-\d+ \S+ is inside mup's download cache/,
    );
    assert.deepEqual(await Deno.readFile(path.join(a1, "secrets", "keyfile")), keyfile);
    assert.equal(
      await Deno.stat(path.join(home, "storage", "clusters", "b1", "meta.yaml")).then(
        () => true,
        () => false,
      ),
      false,
    );
  } finally {
    await killAll(home);
  }
});
