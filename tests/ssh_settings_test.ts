/** SSH settings: topology fields, flags, the ssh(1) arguments they become. No sshd needed. */
import assert from "node:assert/strict";
import { parseTopology, TopologyError } from "../lib/topology/load.ts";
import { hostSshPorts, SSH_TIMEOUT, sshSettings } from "../lib/cli/ssh_options.ts";
import { durationOptionMs } from "../lib/cli/duration_option.ts";
import { DISPLAY_TIMEOUT } from "../lib/cli/cluster_display.ts";
import { WAIT_TIMEOUT } from "../lib/cli/duration_option.ts";
import { parseJump, sshArgs } from "../lib/executor/ssh_settings.ts";
import { MupError } from "../lib/errors.ts";
import { reachedLocally } from "../lib/executor/factory.ts";
import { deployArgs, mup, output, tempHome, testMirror, writeTopology } from "./helpers.ts";
import { installFixture, trackDir } from "./fixture.ts";

installFixture();

// Identity files that exist: a missing one is refused (ssh would quietly use other keys).
const KEYS = trackDir(Deno.makeTempDirSync({ prefix: "mup-keys-" }), true);
for (const k of ["id", "k2"]) Deno.writeTextFileSync(`${KEYS}/${k}`, "key\n", { mode: 0o600 });

const TOPO = `global:
  user: mongo
  ssh_port: 2200
  ssh_identity_file: ${KEYS}/id
mongod_servers:
  - { host: db1.example.net, port: 27017, replica_set: rs, ssh_port: 2201 }
  - { host: db1.example.net, port: 27018, replica_set: rs }
  - { host: db2.example.net, port: 27017, replica_set: rs }
`;

Deno.test("SSH settings come from the topology; flags win", async () => {
  const { topology } = await parseTopology(TOPO, "t.yaml");
  const s = sshSettings(topology, {});
  assert.equal(s.user, "mongo");
  assert.equal(s.port, 2200);
  assert.equal(s.identityFile, `${KEYS}/id`);
  assert.equal(s.strictHostKeys, false);
  assert.deepEqual([...hostSshPorts(topology)], [["db1.example.net", 2201]]);
  const f = sshSettings(topology, {
    user: "ops",
    identityFile: `${KEYS}/k2`,
    sshTimeout: "3s",
    sshOption: ["Compression=yes"],
    sshProxy: "jump@bastion:22",
    strictHostKeys: true,
  });
  assert.equal(f.user, "ops");
  const args = sshArgs(f, "db2.example.net", 2200);
  const opts = args.flatMap((a, i) => (args[i - 1] === "-o" ? [a] : []));
  assert.ok(opts.indexOf("Compression=yes") < opts.indexOf("BatchMode=yes"), "user's -o first");
  for (
    const o of [
      "BatchMode=yes",
      "ConnectTimeout=3",
      "StrictHostKeyChecking=yes",
      "ControlMaster=auto",
      "ControlPersist=300",
    ]
  ) assert.ok(opts.includes(o), o);
  assert.ok(opts.some((o) => o.startsWith("ControlPath=")));
  assert.deepEqual(args.slice(args.indexOf("-p"), args.indexOf("-p") + 2), ["-p", "2200"]);
  assert.deepEqual(args.slice(args.indexOf("-l"), args.indexOf("-l") + 2), ["-l", "ops"]);
  // The jump host as a ProxyCommand with the same key and options, its own user and port.
  const proxy = opts.find((x) => x.startsWith("ProxyCommand="))!;
  assert.match(
    proxy,
    new RegExp(
      `^ProxyCommand=ssh .*-i ${KEYS}/k2 .*-o 'ControlPath=none' -p 22 -l jump -W %h:%p -- bastion$`,
    ),
  );
  assert.match(proxy, /-o 'Compression=yes'/);
  assert.ok(
    sshArgs(sshSettings(topology, {}), "h", undefined).includes("StrictHostKeyChecking=accept-new"),
  );
});

Deno.test("an SSH identity file that is not there is refused, naming it, where it was given and the fix (tester79); hosts all local need none", async () => {
  const { topology } = await parseTopology(TOPO, "t.yaml");
  const refused = (opts: Parameters<typeof sshSettings>[1], t = topology) => {
    try {
      sshSettings(t, opts);
    } catch (e) {
      assert.ok(e instanceof MupError, String(e));
      return `${e.message}\n${e.options.hint}`;
    }
    return undefined;
  };
  assert.match(
    refused({ identityFile: `${KEYS}/nonexistent` })!,
    new RegExp(
      `^SSH identity file ${KEYS}/nonexistent \\(-i/--identity-file\\) does not exist; ssh would try other keys instead, so nothing was done\n` +
        "give the path of the private key that logs in to the hosts \\(-i/--identity-file\\)$",
    ),
  );
  const inTopology = structuredClone(topology);
  inTopology.global.ssh_identity_file = KEYS;
  assert.match(refused({}, inTopology)!, /\(global\.ssh_identity_file\) is not a file/);
  assert.equal(refused({}), undefined);
  // Only local hosts: no SSH, so the file does not matter.
  const local = structuredClone(inTopology);
  for (const s of local.mongod_servers) s.host = "localhost";
  assert.equal(refused({}, local), undefined);
});

Deno.test("bad --ssh-timeout and --ssh-option values are refused with the fix", async () => {
  const { topology } = await parseTopology(TOPO, "t.yaml");
  assert.throws(
    () => sshSettings(topology, { sshTimeout: "soon" }),
    (e) =>
      e instanceof MupError &&
      /--ssh-timeout must be a duration from 1s to 1h such as 10s, 1m .*not "soon"/.test(
        e.message,
      ),
  );
  assert.throws(
    () => sshSettings(topology, { sshOption: ["NoEquals"] }),
    (e) => e instanceof MupError && /--ssh-option "NoEquals" is not KEY=VALUE/.test(e.message),
  );
  const home = await tempHome();
  const topo = await writeTopology(home, "t.yaml", TOPO);
  const r = await mup(
    deployArgs("c1", topo, await testMirror(), ["--plan-only", "--ssh-timeout", "0"]),
    { home },
  );
  assert.equal(r.code, 1, output(r));
  assert.match(r.stderr, /--ssh-timeout 0 has no unit: give it one .*a duration from 1s to 1h/);
});

Deno.test("every timeout option takes a duration with a unit through one parser; a bare number is refused, naming both readings (tester53)", async () => {
  const ms = (spec: typeof SSH_TIMEOUT, v: string) => {
    const r = durationOptionMs(spec, v);
    return "ms" in r ? r.ms : r.error;
  };
  for (const spec of [SSH_TIMEOUT, DISPLAY_TIMEOUT, WAIT_TIMEOUT]) {
    assert.equal(ms(spec, "30s"), 30_000, spec.flag);
    assert.equal(ms(spec, "2m"), 120_000, spec.flag);
    assert.equal(ms(spec, "1m30s"), 90_000, spec.flag);
    for (const bad of ["soon", "5x", "-1s", "1.5s", ""]) {
      assert.match(
        String(ms(spec, bad)),
        new RegExp(`^${spec.flag} must be a duration from .* such as .*ms, s, m or h.*not "`),
        `${spec.flag} ${bad}`,
      );
    }
  }
  assert.equal(ms(SSH_TIMEOUT, "1h"), 3_600_000);
  assert.equal(ms(DISPLAY_TIMEOUT, "500ms"), 500);
  // A bare number is refused: the options once read it in different units (seconds for
  // --ssh-timeout, milliseconds for the others), so `--wait-timeout 600` was 0.6 s.
  assert.match(
    String(ms(SSH_TIMEOUT, "10")),
    /^--ssh-timeout 10 has no unit: write 10s or 10m for what you mean \(it was once read as seconds/,
  );
  assert.match(String(ms(DISPLAY_TIMEOUT, "2000")), /once read as milliseconds/);
  assert.match(
    String(ms(WAIT_TIMEOUT, "600")),
    /^--wait-timeout 600 has no unit: write 600s or 600m for/,
  );
  // Only readings the option takes are offered: 600ms is under --wait-timeout's 1s.
  assert.match(String(ms(WAIT_TIMEOUT, "0")), /^--wait-timeout 0 has no unit: give it one/);
  assert.match(String(ms(DISPLAY_TIMEOUT, "5")), /^--timeout 5 has no unit: write 5s or 5m for/);
  assert.match(String(ms(SSH_TIMEOUT, "2h")), /from 1s to 1h/);
  assert.match(String(ms(DISPLAY_TIMEOUT, "50ms")), /from 100ms to 10m/);
  // ssh counts whole seconds: a duration below one is rounded up.
  const { topology } = await parseTopology(TOPO, "t.yaml");
  assert.equal(sshSettings(topology, { sshTimeout: "1500ms" }).connectTimeoutS, 2);
  assert.equal(sshSettings(topology, { sshTimeout: "2m" }).connectTimeoutS, 120);
  assert.equal(sshSettings(topology, { sshTimeout: "7s" }).connectTimeoutS, 7);

  // Each option's help names the forms, and that a number needs its unit; a bad value is a
  // usage error naming the option, before anything is looked up.
  const home = await tempHome();
  const cases: [string[], string][] = [
    [["cluster", "display"], "--timeout"],
    [["cluster", "deploy"], "--wait-timeout"],
    [["cluster", "deploy"], "--ssh-timeout"],
    [["cluster", "stop"], "--ssh-timeout"],
    [["plan", "resume"], "--ssh-timeout"],
  ];
  for (const [cmd, flag] of cases) {
    const help = await mup([...cmd, "--help"], { home });
    const text = help.stdout.replace(/\s+/g, " ");
    assert.match(
      text,
      new RegExp(`${flag} <duration> .*?a duration such as \\d+m?s, .*a number needs its unit`),
      `${cmd.join(" ")} --help: ${flag}`,
    );
    const bad = await mup([
      ...cmd,
      "c1",
      ...(cmd[1] === "deploy" ? ["t.yaml"] : []),
      flag,
      "5x",
      "--json",
    ], {
      home,
    });
    assert.equal(bad.code, 1, output(bad));
    const doc = JSON.parse(bad.stdout);
    assert.match(doc.error, new RegExp(`${flag} must be a duration .*not "5x"`), output(bad));
  }
});

Deno.test("entries of one host with different ssh_port values are an error", async () => {
  try {
    await parseTopology(
      TOPO.replace(
        "{ host: db1.example.net, port: 27018, replica_set: rs }",
        "{ host: db1.example.net, port: 27018, replica_set: rs, ssh_port: 2202 }",
      ),
      "t.yaml",
    );
    assert.fail("expected a TopologyError");
  } catch (e) {
    assert.ok(e instanceof TopologyError, String(e));
    const hit = e.issues.find((i) => i.code === "ssh_port_conflict");
    assert.ok(hit, JSON.stringify(e.issues));
    assert.match(hit.message, /ssh_port 2202 for db1\.example\.net differs from 2201/);
    assert.equal(hit.location.line, 7);
  }
});

Deno.test("--ssh-proxy values: [user@]host[:port]; % and shell characters are escaped", () => {
  assert.deepEqual(parseJump("bastion"), { user: undefined, host: "bastion", port: undefined });
  assert.deepEqual(parseJump("ops@[::1]:2222"), { user: "ops", host: "::1", port: 2222 });
  assert.throws(() => parseJump("a b"), /is not \[user@\]host\[:port\]/);
  assert.throws(() => parseJump("h:99999"), /is not/);
  const s = {
    connectTimeoutS: 5,
    options: [],
    strictHostKeys: false,
    controlDir: "/tmp/x",
    controlPersistS: 60,
    identityFile: "/keys/50% it's",
    proxyJump: "bastion",
  };
  const proxy = sshArgs(s, "h").find((a) => a.startsWith("ProxyCommand="))!;
  assert.match(proxy, / -i '\/keys\/50%% it'\\''s' /);
});

Deno.test("reachedLocally: this machine's names without SSH; other loopback addresses over SSH", () => {
  for (const h of ["localhost", "127.0.0.1", "::1"]) assert.equal(reachedLocally(h), true, h);
  for (const h of ["127.0.0.2", "127.0.0.3", "db1.example.net", "10.0.0.5"]) {
    assert.equal(reachedLocally(h), false, h);
  }
});
