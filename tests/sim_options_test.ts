/**
 * The simulator accepts every option of real mongod/mongos 6.0–8.0, logs the ones it does not act
 * on, refuses bad values as the server does (exit 2); a mongos answers cursors in the documented
 * shape whatever the routing.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import type { Long } from "bson";
import { MongoClient } from "mongodb";
import { stringify } from "yaml";
import { freePorts, output } from "./helpers.ts";
import { admin, mongosWithoutShards, runBin, simBin, startMongod, withDir } from "./sim_helpers.ts";
import { OPTIONS, type OptionSpec } from "../lib/mongo/server_options.ts";
import { parseOptions } from "../sim/options.ts";
import { OptionsError } from "../sim/errors.ts";
import { installFixture, tempDir } from "./fixture.ts";

installFixture();

/** A value the server accepts for this option, as the command line and as YAML. */
function sample(o: OptionSpec): { cli?: string; yaml: unknown } {
  if (o.cli?.[0] === "networkMessageCompressors" || o.yaml === "net.compression.compressors") {
    return { cli: "snappy,zstd", yaml: "snappy,zstd" };
  }
  if (o.cli?.[0] === "verbose") return { cli: "vv", yaml: undefined };
  switch (o.type) {
    case "switch":
      return { yaml: true };
    case "bool":
      return { cli: "true", yaml: true };
    case "int":
    case "double": {
      const n = o.min ?? 1;
      return { cli: String(n), yaml: n };
    }
    case "list":
      return { cli: "10.0.0.0/8", yaml: ["10.0.0.0/8"] };
    case "map":
      return { cli: "enableTestCommands=1", yaml: { enableTestCommands: 1 } };
    default: {
      const s = o.choices?.[0] ?? "/tmp/x";
      return { cli: s, yaml: s };
    }
  }
}

function nested(key: string, value: unknown): Record<string, unknown> {
  return key.split(".").reduceRight<Record<string, unknown>>(
    (acc, part) => ({ [part]: acc }),
    value as Record<string, unknown>,
  );
}

const ROLES = ["mongod", "mongos"] as const;
const META = new Set(["help", "h", "version", "config", "f"]);

Deno.test("simulator options: every option of the table is accepted on the command line and in the config file by the binaries that have it, refused by the others, and logged as ignored unless acted on", async () => {
  const dir = await tempDir("mup-simopt-");
  try {
    let checked = 0;
    for (const o of OPTIONS) {
      for (const role of ROLES) {
        const allowed = !o.roles || o.roles.includes(role);
        const s = sample(o);
        for (const name of o.cli ?? []) {
          if (META.has(name)) continue;
          const flag = name.length === 1 ? `-${name}` : `--${name}`;
          const given = s.cli === undefined ? [flag] : [flag, s.cli];
          // An option a later series removed: accepted by the last one that has it, refused by
          // the default (7.0) as the real binary refuses it.
          const args = o.removedIn ? ["--sim-version", "6.0.19", ...given] : given;
          const run = () => parseOptions(role, args);
          if (o.removedIn && allowed) {
            assert.throws(
              () => parseOptions(role, given),
              new RegExp(`unrecognised option '${flag}'`),
              `${role} 7.0 ${flag}`,
            );
          }
          // An option a later series added: refused by the one before it.
          if (o.addedIn && allowed) {
            assert.throws(
              () => parseOptions(role, ["--sim-version", "6.0.19", ...given]),
              new RegExp(`unrecognised option '${flag}'`),
              `${role} 6.0 ${flag}`,
            );
          }
          if (allowed && o.refused) {
            assert.throws(run, /the mup simulator does not implement/, `${role} ${flag}`);
            continue;
          }
          if (!allowed) {
            assert.throws(run, new RegExp(`unrecognised option '${flag}'`), `${role} ${flag}`);
            continue;
          }
          const r = run();
          checked++;
          if (!o.acted) {
            assert.ok(r.ignored.length > 0, `${role} ${args.join(" ")} is logged as ignored`);
          }
        }
        if (o.yaml && !o.cliOnly && o.type !== "map") {
          const file = path.join(dir, "c.yaml");
          await Deno.writeTextFile(file, stringify(nested(o.yaml, s.yaml)));
          const version = o.removedIn ? ["--sim-version", "6.0.19"] : [];
          const run = () => parseOptions(role, [...version, "-f", file]);
          if (o.addedIn && allowed) {
            assert.throws(
              () => parseOptions(role, ["--sim-version", "6.0.19", "-f", file]),
              new RegExp(`Unrecognized option: ${o.yaml}`),
              `${role} 6.0 ${o.yaml}`,
            );
          }
          if (o.removedIn && allowed) {
            assert.throws(
              () => parseOptions(role, ["-f", file]),
              new RegExp(`Unrecognized option: ${o.yaml}`),
              `${role} 7.0 ${o.yaml}`,
            );
          }
          if (!allowed) {
            assert.throws(run, /Unrecognized option/, `${role} ${o.yaml}`);
            continue;
          }
          if (o.refusedInFile) {
            assert.throws(run, /not supported in config files/, `${role} ${o.yaml}`);
            continue;
          }
          const r = run();
          checked++;
          if (!o.acted) assert.ok(r.ignored.includes(o.yaml), `${role} ${o.yaml} ignored`);
        }
      }
    }
    assert.ok(checked > 250, `checked ${checked} option forms`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("simulator options: a configuration file's numbers are read with their base, as mongod reads option text: '0700' is octal, '0x10' hexadecimal", async () => {
  const dir = await tempDir("mup-simopt-");
  try {
    const file = path.join(dir, "c.yaml");
    await Deno.writeTextFile(
      file,
      "net:\n  unixDomainSocket: { filePermissions: '0700' }\n  listenBacklog: '0x10'\n",
    );
    const o = parseOptions("mongod", ["-f", file, "--dbpath", dir]);
    const net = o.parsed.net as {
      unixDomainSocket: { filePermissions: number };
      listenBacklog: number;
    };
    assert.equal(net.unixDomainSocket.filePermissions, 0o700);
    assert.equal(net.listenBacklog, 16);
    await Deno.writeTextFile(file, "net:\n  unixDomainSocket: { filePermissions: '0800' }\n");
    assert.throws(() => parseOptions("mongod", ["-f", file, "--dbpath", dir]), /as int in: "0800"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("simulator options: a legacy INI configuration file (name = value) is read like the command line", async () => {
  const dir = await tempDir("mup-simopt-");
  try {
    const file = path.join(dir, "mongod.conf");
    await Deno.writeTextFile(
      file,
      "# legacy format\nport = 27999\nbind_ip = 127.0.0.1\nreplSet = rs0  # the set\nfork = false\nnounixsocket = true\nsetParameter = enableTestCommands=1\n",
    );
    const o = parseOptions("mongod", ["-f", file, "--dbpath", dir]);
    assert.equal(o.port, 27999);
    assert.equal(o.replSet, "rs0");
    assert.equal(o.fork, false);
    assert.deepEqual(o.bindIp, ["127.0.0.1"]);
    assert.ok(o.ignored.includes("net.unixDomainSocket.enabled"));
    assert.deepEqual(o.parsed.setParameter, { enableTestCommands: "1" });
    await Deno.writeTextFile(file, "port = 1\nportt = 2\n");
    assert.throws(
      () => parseOptions("mongod", ["-f", file]),
      /Error parsing INI config file: unrecognised option '--portt'/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("simulator options: out-of-range, mistyped and unknown values are refused with the server's messages", () => {
  const refused: [string, string[], RegExp][] = [
    ["mongod", ["--port", "70000"], /net\.port must be less than or equal to 65535/],
    ["mongod", ["--port", "abc"], /the argument \('abc'\) for option '--port' is invalid/],
    ["mongod", ["--wiredTigerCacheSizeGB", "0.1"], /cacheSizeGB must be greater than or equal/],
    ["mongod", ["--oplogSize", "0"], /bad --oplogSize, arg must be greater than 0/],
    ["mongod", ["--timeZoneInfo"], /the required argument for option '--timeZoneInfo' is missing/],
    ["mongod", ["--nounixsocket=1"], /option '--nounixsocket' does not take any arguments/],
    ["mongod", ["--setParameter", "novalue"], /Illegal option assignment: "novalue"/],
    ["mongod", ["--clusterAuthMode", "password"], /Bad value for security\.clusterAuthMode/],
    ["mongod", ["--networkMessageCompressors", "lz4"], /Invalid network message compressor/],
    ["mongod", ["--port", "1", "--port", "2"], /'--port' cannot be specified more than once/],
    ["mongos", ["--replSet", "rs0"], /unrecognised option '--replSet'/],
    ["mongos", ["--wiredTigerCacheSizeGB", "1"], /unrecognised option/],
    ["mongod", ["--configdb", "cfg/h:1"], /unrecognised option '--configdb'/],
    [
      "mongod",
      ["--configsvr", "--shardsvr"],
      /shardsvr is not allowed when configsvr is specified/,
    ],
    ["mongod", ["--noauth", "--keyFile", "/k"], /keyFile is not allowed when noauth is specified/],
    ["mongod", ["--bind_ip", "::1", "--bind_ip_all"], /not allowed when bind_ip is specified/],
  ];
  for (const [role, args, message] of refused) {
    assert.throws(
      () => parseOptions(role as "mongod", args),
      (e) => e instanceof OptionsError && message.test(e.message),
      `${role} ${args.join(" ")}`,
    );
  }
});

Deno.test("simulator options: a mongod started with mongodb-runner's and operators' options runs, logs what it ignores, reports them in getCmdLineOpts (setParameter in getParameter too); bad values exit 2", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const mongod = path.join(bin, "mongod");
    const [port] = freePorts(1);
    const conf = path.join(dir, "mongod.conf");
    await Deno.writeTextFile(
      conf,
      stringify({
        net: { unixDomainSocket: { enabled: false }, compression: { compressors: "zstd" } },
        storage: { wiredTiger: { engineConfig: { cacheSizeGB: 0.5, journalCompressor: "zstd" } } },
        operationProfiling: { mode: "slowOp", slowOpThresholdMs: 50 },
        systemLog: { component: { replication: { verbosity: 2 } } },
        setParameter: { diagnosticDataCollectionEnabled: false },
      }),
    );
    const r = await startMongod(bin, dir, port, [
      "-f",
      conf,
      "--nounixsocket",
      "--unixSocketPrefix",
      dir,
      "--filePermissions",
      "0700",
      "--ipv6",
      "--oplogSize",
      "128",
      "--setParameter",
      "enableTestCommands=1",
      "--quiet",
      "--logappend",
      "--timeZoneInfo",
      "/usr/share/zoneinfo",
      "--maxConns",
      "200",
      "--tlsMode",
      "disabled",
      "--enableMajorityReadConcern",
      "--wiredTigerCacheSizeGB",
      "0.25",
    ]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const opts = await admin(port, { getCmdLineOpts: 1 }) as {
      parsed: {
        setParameter: Record<string, unknown>;
        storage: { wiredTiger: { engineConfig: { cacheSizeGB: number } } };
      };
    };
    assert.deepEqual(opts.parsed.setParameter, {
      diagnosticDataCollectionEnabled: false,
      enableTestCommands: "1",
    });
    assert.equal(opts.parsed.storage.wiredTiger.engineConfig.cacheSizeGB, 0.25, "cli wins");
    // getParameter reads startup parameters back, typed (tester85).
    const params = await admin(port, {
      getParameter: 1,
      diagnosticDataCollectionEnabled: 1,
      enableTestCommands: 1,
    });
    assert.deepEqual(
      [params.diagnosticDataCollectionEnabled, params.enableTestCommands],
      [false, 1],
    );
    const log = await Deno.readTextFile(path.join(dir, String(port), "log"));
    for (
      const k of [
        "net.unixDomainSocket.enabled",
        "net.unixDomainSocket.pathPrefix",
        "net.ipv6",
        "replication.oplogSizeMB",
        "setParameter",
        "processManagement.timeZoneInfo",
        "operationProfiling.mode",
      ]
    ) {
      assert.match(log, new RegExp(`not acted on by the simulator.*"option":"${k}"`), k);
    }
    // The real exit code and message style for a bad value, from the binary itself.
    const bad = await runBin(mongod, ["--port", String(port), "--filePermissions", "rw"]);
    assert.equal(bad.code, 2, output(bad));
    assert.match(bad.stderr, /Error parsing command line: the argument \('rw'\) for option/);
    assert.match(bad.stderr, /try 'mongod --help' for more information/);
    // --outputConfig prints the resolved configuration; --shutdown stops the server on the
    // dbpath; jobs the simulator cannot do (--repair) are refused, not pretended.
    const conf2 = await runBin(mongod, ["-f", conf, "--port", "1234", "--outputConfig"]);
    assert.equal(conf2.code, 0, output(conf2));
    assert.match(conf2.stdout, /net:\n(.*\n)* {2}port: 1234/);
    const repair = await runBin(mongod, ["--repair", "--dbpath", dir]);
    assert.equal(repair.code, 2, output(repair));
    assert.match(repair.stderr, /does not implement '--repair'/);
    const pid = Number(
      (await Deno.readTextFile(path.join(dir, String(port), "mongod.pid"))).trim(),
    );
    const stop = await runBin(mongod, ["--shutdown", "--dbpath", path.join(dir, String(port))]);
    assert.equal(stop.code, 0, stop.stdout + stop.stderr);
    assert.match(stop.stdout, new RegExp(`killing process with pid: ${pid}`));
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`).catch(() => "");
    assert.ok(!stat || / Z /.test(stat.slice(stat.lastIndexOf(")"))), `pid ${pid} is gone`);
    const none = await runBin(mongod, ["--shutdown", "--dbpath", path.join(dir, String(port))]);
    assert.equal(none.code, 1, output(none));
    assert.match(none.stdout, /There doesn't seem to be a server running with dbpath/);
    const help = await runBin(path.join(bin, "mongos"), ["--help"]);
    assert.equal(help.code, 0, output(help));
    assert.match(help.stdout, /--configdb arg/);
    assert.doesNotMatch(help.stdout, /--dbpath/);
  });
});

Deno.test("mongos without shards: config reads go to the config servers and every cursor reply has {id: Long, ns: db.coll, firstBatch}", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const port = await mongosWithoutShards(bin, dir);
    const c = new MongoClient(`mongodb://127.0.0.1:${port}/?serverSelectionTimeoutMS=10000`);
    try {
      // What mongodb-runner does right after starting a mongos.
      const runner = c.db("config").collection("mongodbrunner");
      assert.equal(await runner.findOne(), null);
      await runner.insertOne({ _id: "x" as never, pid: 1 });
      assert.deepEqual(await runner.findOne({ _id: "x" as never }), { _id: "x", pid: 1 });
      assert.deepEqual(await c.db("config").collection("shards").find().toArray(), []);
      assert.deepEqual(await c.db("shop").collection("orders").find().toArray(), []);
      assert.deepEqual(await c.db("shop").collection("orders").aggregate([]).toArray(), []);
      for (
        const [db, cmd, ns] of [
          ["config", { find: "shards" }, "config.shards"],
          ["shop", { find: "orders" }, "shop.orders"],
          ["shop", { aggregate: "orders", pipeline: [], cursor: {} }, "shop.orders"],
          ["shop", { listCollections: 1 }, "shop.$cmd.listCollections"],
        ] as const
      ) {
        const reply = await c.db(db).command(cmd, { promoteLongs: false });
        assert.equal(
          (reply.cursor.id as Long)?._bsontype,
          "Long",
          `${JSON.stringify(cmd)}: id is a Long, got ${JSON.stringify(reply.cursor)}`,
        );
        assert.equal(reply.cursor.ns, ns);
        assert.ok(Array.isArray(reply.cursor.firstBatch));
        assert.equal(reply.ok, 1);
      }
    } finally {
      await c.close();
    }
  });
});

Deno.test("simulator options: a 6.0 replica-set member refuses to start without a journal (exit 2, as mongod_main does); a standalone without one refuses j: true (2 BadValue)", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("6.0.19");
    const [rs, alone] = freePorts(2);
    const refused = await startMongod(bin, dir, rs, ["--replSet", "rs0", "--nojournal"]);
    assert.equal(refused.code, 2, output(refused));
    assert.match(
      await Deno.readTextFile(path.join(dir, String(rs), "log")),
      /Running wiredTiger without journaling in a replica set is not supported/,
    );
    const r = await startMongod(bin, dir, alone, ["--nojournal"]);
    assert.equal(r.code, 0, output(r));
    const c = new MongoClient(`mongodb://localhost:${alone}/?directConnection=true`);
    try {
      const coll = c.db("app").collection("j");
      await coll.insertOne({ _id: 1 } as never, { writeConcern: { w: 1 } });
      const e = await coll.insertOne({ _id: 2 } as never, { writeConcern: { w: 1, j: true } })
        .then(() => undefined, (e: { code?: number; message?: string }) => e);
      assert.equal(e?.code, 2, JSON.stringify(e));
      assert.match(e?.message ?? "", /cannot use 'j' option when a host does not have journaling/);
      assert.equal(await coll.countDocuments({}), 1, "the refused write was not applied");
    } finally {
      await c.close();
    }
  });
});
