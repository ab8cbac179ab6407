import assert from "node:assert/strict";
import { z } from "zod";
import { parseTopology, TopologyError } from "../lib/topology/load.ts";
import { Topology, topologyKind } from "../lib/topology/schema.ts";
import { nodeDirs } from "../lib/topology/layout.ts";
import { installFixture } from "./fixture.ts";

installFixture();

/** Parses and returns the single error expected, with its location. */
async function errorsOf(text: string) {
  try {
    await parseTopology(text, "topo.yaml");
  } catch (e) {
    assert.ok(e instanceof TopologyError, `expected TopologyError, got ${e}`);
    return e.issues;
  }
  assert.fail("expected the topology to be rejected");
}

/** The problems a topology has for a server target (variant, version). */
async function errorsOf2(text: string, target: { variant?: string; version?: string }) {
  try {
    await parseTopology(text, "topo.yaml", undefined, target);
  } catch (e) {
    assert.ok(e instanceof TopologyError, `expected TopologyError, got ${e}`);
    return e.issues;
  }
  assert.fail("expected the topology to be rejected");
}

async function expectError(text: string, code: string, line: number, pattern: RegExp) {
  const issues = await errorsOf(text);
  const hit = issues.find((i) => i.code === code);
  assert.ok(hit, `no ${code} among ${JSON.stringify(issues.map((i) => i.code))}`);
  assert.match(hit.message, pattern);
  assert.equal(hit.location.file, "topo.yaml");
  assert.equal(hit.location.line, line, `line of ${code}`);
  assert.ok(hit.location.column! >= 1);
  assert.ok(hit.hint && hit.hint.length > 0, "every error says how to fix it");
  return hit;
}

Deno.test("topologyKind() detects standalone, replica set and sharded", async () => {
  const k = async (t: string) => topologyKind((await parseTopology(t, "t.yaml")).topology);
  assert.equal(await k("mongod_servers:\n  - host: localhost\n    port: 27017\n"), "standalone");
  assert.equal(
    await k(
      "mongod_servers:\n  - { host: localhost, port: 1, replica_set: a }\n  - { host: localhost, port: 2, replica_set: a }\n  - { host: localhost, port: 3, replica_set: a }\n",
    ),
    "replica_set",
  );
  const sharded =
    "config_servers:\n  - { host: localhost, port: 1, replica_set: cfg }\nmongod_servers:\n  - { host: localhost, port: 2, replica_set: s1 }\nmongos_servers:\n  - { host: localhost, port: 3 }\n";
  assert.equal(await k(sharded), "sharded");
});

Deno.test("duplicate host:port is an error at the second node's port", async () => {
  const hit = await expectError(
    "mongod_servers:\n  - host: localhost\n    replica_set: rs0\n    port: 27017\n  - host: localhost\n    replica_set: rs0\n    port: 27017\n",
    "duplicate_address",
    7,
    /localhost:27017 is already used by mongod_servers\[0\]/,
  );
  assert.equal(hit.location.path, "mongod_servers[1].port");
  // The directories named after that port clash too: not reported again.
  const all = await errorsOf(
    "mongod_servers:\n  - host: localhost\n    replica_set: rs0\n    port: 27017\n  - host: localhost\n    replica_set: rs0\n    port: 27017\n",
  );
  assert.deepEqual(all.map((i) => i.code), ["duplicate_address"]);
});

Deno.test("a host ssh would read as an option, or no host name or address can be, is an error at its line naming the fault (tester38)", async () => {
  const cases: [string, RegExp][] = [
    ["-V", /^"-V" starts with "-", which ssh would read as an option$/],
    ["exa_mple..com", /has an empty label/],
    ["10.0.0.300", /is not an IPv4 address: 300 is over 255/],
    ["local host", /holds a space/],
  ];
  for (const [host, want] of cases) {
    const hit = await expectError(
      `mongod_servers:\n  - host: ${JSON.stringify(host)}\n    port: 28001\n`,
      "custom",
      2,
      want,
    );
    assert.deepEqual(hit.path, ["mongod_servers", 0, "host"]);
  }
});

Deno.test("options written at the column of the empty runtime_config (or security) above them: one error each, saying to indent them under it, not to remove them (tester39)", async () => {
  const member =
    "mongod_servers:\n  - host: localhost\n    port: 28001\n    runtime_config:\n    storage.wiredTiger.engineConfig.cacheSizeGB: 1\n";
  const issues = await errorsOf(member);
  assert.equal(issues.length, 1, JSON.stringify(issues));
  assert.equal(issues[0].location.line, 5);
  assert.match(
    issues[0].message,
    /^"storage\.wiredTiger\.engineConfig\.cacheSizeGB" is at the column of "runtime_config" \(line 4\), which is empty/,
  );
  assert.equal(issues[0].hint, "indent it under runtime_config: start it at column 7");
  const global = await errorsOf(
    "global:\n  security:\n  auth: false\nmongod_servers:\n  - host: localhost\n",
  );
  assert.equal(global.length, 1, JSON.stringify(global));
  assert.equal(global[0].hint, "indent it under security: start it at column 5");
  // A key the empty one does not take is not moved under it.
  const other = await errorsOf(
    "global:\n  security:\n  colour: blue\nmongod_servers:\n  - host: localhost\n",
  );
  assert.ok(
    other.every((i) => !/indent it under security/.test(i.hint ?? "")),
    JSON.stringify(other),
  );
});

Deno.test("two nodes sharing a data directory on one host", async () => {
  await expectError(
    "mongod_servers:\n  - { host: localhost, port: 1, data_dir: /d }\n  - { host: localhost, port: 2, data_dir: /d }\n",
    "shared_data_dir",
    3,
    /data directory \/d on localhost is also used/,
  );
});

Deno.test("a data directory inside another process's on the same host is an error; side by side, or on another host, is not", async () => {
  await expectError(
    "mongod_servers:\n  - { host: localhost, port: 1, replica_set: rs0, data_dir: /d/a }\n  - { host: localhost, port: 2, replica_set: rs0, data_dir: /d/a/b }\n",
    "nested_data_dir",
    3,
    /data directory \/d\/a\/b on localhost is inside \/d\/a, the data directory of mongod_servers\[0\] \(localhost:1\)/,
  );
  // /d/ab starts with /d/a but is beside it; db2.example.net is another machine.
  await parseTopology(
    "mongod_servers:\n  - { host: db1.example.net, port: 1, replica_set: rs0, data_dir: /d/a }\n  - { host: db1.example.net, port: 2, replica_set: rs0, data_dir: /d/ab }\n  - { host: db2.example.net, port: 3, replica_set: rs1, data_dir: /d/a/b }\nconfig_servers:\n  - { host: db3.example.net, port: 4, replica_set: cfg }\nmongos_servers:\n  - { host: db3.example.net, port: 5 }\n",
    "t.yaml",
  );
});

Deno.test("a relative directory with `..` (it would leave its deploy_dir, to /srv or anywhere) is an error", async () => {
  await expectError(
    "mongod_servers:\n  - { host: localhost, port: 1, data_dir: ../../../../../../../../srv }\n",
    "relative_dir_escapes",
    2,
    /data_dir \.\.\/\.\.\/\.\.\/\.\.\/\.\.\/\.\.\/\.\.\/\.\.\/srv leaves the deploy_dir it is relative to/,
  );
  await expectError(
    "global:\n  log_dir: logs/../../elsewhere\nmongod_servers:\n  - { host: localhost, port: 1 }\n",
    "relative_dir_escapes",
    2,
    /log_dir logs\/\.\.\/\.\.\/elsewhere leaves/,
  );
  // Inside it, relative directories are fine.
  await parseTopology(
    "mongod_servers:\n  - { host: localhost, port: 1, data_dir: data/db1 }\n",
    "t.yaml",
  );
});

Deno.test("an absolute directory with `..` is an error; `/d/` and `/d` are one data directory", async () => {
  await expectError(
    "mongod_servers:\n  - { host: localhost, port: 1, data_dir: /d/e/../f }\n",
    "dir_dotdot",
    2,
    /data_dir \/d\/e\/\.\.\/f has a `\.\.` in it/,
  );
  await expectError(
    "mongod_servers:\n  - { host: localhost, port: 1, data_dir: /d }\n  - { host: localhost, port: 2, data_dir: /d/ }\n",
    "shared_data_dir",
    3,
    /data directory \/d on localhost is also used by mongod_servers\[0\]/,
  );
});

Deno.test("more than 7 voting members", async () => {
  const members = Array.from(
    { length: 8 },
    (_, i) => `  - { host: localhost, port: ${100 + i}, replica_set: rs }`,
  ).join("\n");
  await expectError(
    `mongod_servers:\n${members}\n`,
    "too_many_voters",
    9,
    /8 voting members; MongoDB allows at most 7/,
  );
});

Deno.test("more than 50 members", async () => {
  const members = Array.from(
    { length: 51 },
    (_, i) =>
      `  - { host: localhost, port: ${100 + i}, replica_set: rs${i < 7 ? "" : ""}, votes: ${
        i < 7 ? 1 : 0
      }, priority: ${i < 7 ? 1 : 0} }`,
  ).join("\n");
  await expectError(
    `mongod_servers:\n${members}\n`,
    "too_many_members",
    52,
    /51 members; MongoDB allows at most 50/,
  );
});

Deno.test("an even number of voting members is a warning, not an error", async () => {
  const t = await parseTopology(
    "mongod_servers:\n  - { host: localhost, port: 1, replica_set: rs }\n  - { host: localhost, port: 2, replica_set: rs }\n",
    "t.yaml",
  );
  assert.equal(t.warnings.length, 1);
  assert.equal(t.warnings[0].code, "even_voters");
  assert.match(
    t.warnings[0].message,
    /even number of voting members \(2\): a primary needs 2 of them, so it survives no more failures than 1 would \(losing either member leaves no primary\)/,
  );
  assert.equal(t.warnings[0].hint, "add an arbiter or another voting member");
  // Located at the member that makes the count even (the last one), not the set's first.
  assert.deepEqual(t.warnings[0].path, ["mongod_servers", 1, "replica_set"]);
  assert.equal(t.warnings[0].location.line, 3);
  // A config server set takes no arbiter (MongoDB refuses it): the fix says so.
  const cfg = await parseTopology(
    "config_servers:\n  - { host: localhost, port: 1, replica_set: cfg }\n" +
      "  - { host: localhost, port: 2, replica_set: cfg }\n" +
      "mongod_servers:\n  - { host: localhost, port: 3, replica_set: s1 }\n" +
      "mongos_servers:\n  - { host: localhost, port: 4 }\n",
    "t.yaml",
  );
  const even = cfg.warnings.find((w) => w.code === "even_voters" && /"cfg"/.test(w.message));
  assert.equal(even?.hint, "add another voting member");
});

Deno.test("a replica set of one voting member is a warning (no failover), naming the fix", async () => {
  const t = await parseTopology(
    "mongod_servers:\n  - { host: localhost, port: 1, replica_set: rs }\n" +
      "  - { host: localhost, port: 2, replica_set: rs, votes: 0 }\n",
    "t.yaml",
  );
  // votes: 0 without a priority is priority 0, as hidden: true is (no error).
  assert.deepEqual(t.warnings.map((w) => w.code), ["single_voter"]);
  assert.match(t.warnings[0].message, /replica set "rs" has one voting member: it has no failover/);
  assert.match(t.warnings[0].hint ?? "", /three voting members \(`mup cluster scale-out`/);
  // Three voters, or a standalone, have none.
  const ok3 = await parseTopology(
    "mongod_servers:\n" +
      [1, 2, 3].map((p) => `  - { host: localhost, port: ${p}, replica_set: rs }`).join("\n") +
      "\n",
    "t.yaml",
  );
  assert.deepEqual(ok3.warnings, []);
  const alone = await parseTopology(
    "mongod_servers:\n  - { host: localhost, port: 1 }\n",
    "t.yaml",
  );
  assert.deepEqual(alone.warnings, []);
});

Deno.test("a non-voting member with a priority above 0 is an error naming it", async () => {
  await expectError(
    "mongod_servers:\n  - { host: localhost, port: 1, replica_set: rs }\n  - { host: localhost, port: 2, replica_set: rs }\n  - { host: localhost, port: 3, replica_set: rs, votes: 0, priority: 1 }\n",
    "nonvoting_priority",
    4,
    /a non-voting member must have priority 0, not 1/,
  );
});

Deno.test("hidden member with non-zero priority", async () => {
  await expectError(
    "mongod_servers:\n  - { host: localhost, port: 1, replica_set: rs }\n  - { host: localhost, port: 2, replica_set: rs }\n  - { host: localhost, port: 3, replica_set: rs, hidden: true, priority: 1 }\n",
    "hidden_priority",
    4,
    /hidden member must have priority 0/,
  );
});

Deno.test("arbiter with non-zero priority; a set with no member that can become primary", async () => {
  await expectError(
    "mongod_servers:\n  - { host: localhost, port: 1, replica_set: rs }\n  - { host: localhost, port: 2, replica_set: rs }\n  - { host: localhost, port: 3, replica_set: rs, arbiter_only: true, priority: 1 }\n",
    "arbiter_priority",
    4,
    /an arbiter must have priority 0, not 1/,
  );
  await expectError(
    "mongod_servers:\n  - { host: localhost, port: 1, replica_set: rs }\n  - { host: localhost, port: 2, replica_set: rs }\n  - { host: localhost, port: 3, replica_set: rs, arbiter_only: true, votes: 0 }\n",
    "arbiter_votes",
    4,
    /an arbiter must vote: MongoDB refuses one with votes: 0/,
  );
  await expectError(
    "mongod_servers:\n  - { host: localhost, port: 1, replica_set: rs, priority: 0 }\n  - { host: localhost, port: 2, replica_set: rs, priority: 0 }\n  - { host: localhost, port: 3, replica_set: rs, priority: 0 }\n",
    "no_electable",
    2,
    /replica set "rs" has no member that can become primary/,
  );
});

Deno.test("sharded topology without config replica set or mongos", async () => {
  await expectError(
    "mongod_servers:\n  - { host: localhost, port: 1, replica_set: s1 }\nmongos_servers:\n  - { host: localhost, port: 2 }\n",
    "no_config_set",
    1,
    /needs a config server replica set/,
  );
  await expectError(
    "config_servers:\n  - { host: localhost, port: 1, replica_set: cfg }\nmongod_servers:\n  - { host: localhost, port: 2, replica_set: s1 }\n",
    "no_mongos",
    1,
    /needs at least one mongos/,
  );
});

Deno.test("a shard set named like the config set", async () => {
  await expectError(
    "config_servers:\n  - { host: localhost, port: 1, replica_set: cfg }\nmongod_servers:\n  - { host: localhost, port: 2, replica_set: cfg }\nmongos_servers:\n  - { host: localhost, port: 3 }\n",
    "set_name_clash",
    4,
    /same name as the config replica set/,
  );
});

Deno.test("port 0 is allowed for local hosts only", async () => {
  await parseTopology("mongod_servers:\n  - { host: localhost, port: 0 }\n", "t.yaml");
  await expectError(
    "mongod_servers:\n  - host: db1.example.com\n    port: 0\n",
    "port_zero_remote",
    3,
    /only allowed for local hosts, not db1.example.com/,
  );
});

Deno.test("unknown keys get a did-you-mean suggestion at the key's position", async () => {
  const hit = await expectError(
    "mongod_servers:\n  - host: localhost\n    prot: 27017\n",
    "unknown_key",
    3,
    /unknown key "prot" \(did you mean "port"\?\)/,
  );
  assert.equal(hit.location.column, 5);
  await expectError(
    "globl:\n  user: x\nmongod_servers:\n  - host: localhost\n",
    "unknown_key",
    1,
    /did you mean "global"/,
  );
  // A member's key at column 1 parses as a top-level key: the fix says where it belongs and how
  // to indent it before "remove it", which would leave the member a standalone (tester34 M6).
  const outdented = await expectError(
    "mongod_servers:\n  - host: localhost\n    port: 28201\nreplica_set: rs0\n",
    "unknown_key",
    4,
    /unknown key "replica_set"$/,
  );
  assert.match(
    outdented.hint!,
    /^"replica_set" is a key of an entry of mongod_servers or of an entry of config_servers: if this line belongs to the entry above it, indent it to line up with that entry's keys; otherwise remove it \(allowed keys here: global, mongod_servers,/,
  );
  // The same key in the middle of the list: one problem, at that line, not the parser's
  // errors on the correct lines after it (tester35).
  const midList =
    "mongod_servers:\n  - host: localhost\n    port: 28017\nreplica_set: rs0\n  - host: localhost\n    port: 28018\n";
  assert.equal((await errorsOf(midList)).length, 1, JSON.stringify(await errorsOf(midList)));
  const mid = await expectError(
    midList,
    "yaml_syntax",
    4,
    /^"replica_set" at column 1 is read as a key of the whole file, which ends the list of "mongod_servers" above it/,
  );
  assert.match(mid.hint!, /indent it to line up with that entry's keys/);
  // A list item, or an entry's key, at the wrong column: one problem at that line, saying
  // which column it belongs at, not the parser's errors at column 1 or after it (tester37).
  const deeperItem =
    "mongod_servers:\n  - host: localhost\n    port: 28017\n    - host: localhost\n      port: 28018\n";
  assert.equal((await errorsOf(deeperItem)).length, 1, JSON.stringify(await errorsOf(deeperItem)));
  const item = await expectError(
    deeperItem,
    "yaml_syntax",
    4,
    /^this list item's "-" is at column 5, but the item above it \(line 2\) starts at column 3: YAML reads it as part of the entry above$/,
  );
  assert.equal(item.location.column, 5);
  assert.match(item.hint!, /^start it at column 3, as the items above it/);
  const shallowKey =
    "mongod_servers:\n  - host: localhost\n    port: 28017\n  - host: localhost\n   port: 28018\n";
  assert.equal((await errorsOf(shallowKey)).length, 1, JSON.stringify(await errorsOf(shallowKey)));
  const key = await expectError(
    shallowKey,
    "yaml_syntax",
    5,
    /^this key is at column 4, but the keys of its entry \(line 4\) start at column 5: YAML reads it as belonging to no entry$/,
  );
  assert.match(key.hint!, /^start it at column 5/);
  // After a mapping, not a list: said of that mapping (tester37).
  await expectError(
    "global:\n  user: mongod\nport: 28017\n  ssh_port: 22\nmongod_servers:\n  - host: localhost\n",
    "yaml_syntax",
    3,
    /^"port" at column 1 is read as a key of the whole file, which ends the mapping of "global" above it/,
  );
  // Misspelt too, or two such keys in a row: the first line, with the spelling meant (tester36).
  const misspeltMid = await expectError(
    "mongod_servers:\n  - host: localhost\n    port: 28017\nreplicaset: rs0\npriority: 2\n  - host: localhost\n",
    "yaml_syntax",
    4,
    /^"replicaset" at column 1 is read as a key of the whole file/,
  );
  assert.match(misspeltMid.hint!, /^did you mean "replica_set"/);
  // A key of a mapping, not of a list's entries: moved there; misspelt too: the spelling meant.
  const tls = await expectError(
    "mongod_servers:\n  - host: localhost\ntls: true\n",
    "unknown_key",
    3,
    /unknown key "tls"/,
  );
  assert.match(
    tls.hint!,
    /^"tls" is a key of global\.security: move it there \(under `global:`, then `security:`, indented\)/,
  );
  const spelt = await expectError(
    "mongod_servers:\n  - host: localhost\nreplicaset: rs0\n",
    "unknown_key",
    3,
    /unknown key "replicaset"/,
  );
  assert.match(spelt.hint!, /^did you mean "replica_set", a key of an entry of mongod_servers/);
  // A key known nowhere keeps the plain fix.
  const nowhere = await expectError(
    "mongod_servers:\n  - host: localhost\n    colour: blue\n",
    "unknown_key",
    3,
    /unknown key "colour"$/,
  );
  assert.match(nowhere.hint!, /^remove it; allowed keys here: host, /);
});

Deno.test("wrong types name the expected type and the value", async () => {
  await expectError(
    'mongod_servers:\n  - host: localhost\n    port: "abc"\n',
    "invalid_type",
    3,
    /expected a number, got the string "abc"/,
  );
  await expectError(
    "mongod_servers:\n  - host: localhost\n    hidden: yes-please\n",
    "invalid_type",
    3,
    /expected true or false/,
  );
  // A key with nothing after it is YAML's null: said to be empty, in words, not zod's "record".
  await expectError(
    "mongod_servers:\n  - host: localhost\n    runtime_config:\n",
    "invalid_type",
    3,
    /^is empty: expected a mapping \(key: value\)$/,
  );
  await expectError(
    "mongod_servers:\n  - host: localhost\n    port: 27017.5\n",
    "invalid_type",
    3,
    /expected a whole number, got number 27017\.5/,
  );
  // A required key not written is missing, and the fix names the key to add (not "got nothing").
  const missing = await expectError(
    "mongod_servers:\n  - port: 27017\n    priority: 2\n",
    "invalid_type",
    2,
    /^is required and missing: expected a string$/,
  );
  assert.equal(missing.hint, "add `host:` with a string to this mapping");
  // default_write_concern.w: "majority" or a number, said so, not just "one of: majority".
  const w = await expectError(
    "global:\n  default_write_concern: { w: 1.5 }\nmongod_servers:\n  - host: localhost\n",
    "invalid_value",
    2,
    /^number 1\.5 is neither "majority" nor a whole number of members from 1$/,
  );
  assert.match(w.hint!, /w: majority, or a number of members/);
});

Deno.test("YAML syntax errors and non-mapping documents are reported with a position, not thrown raw", async () => {
  await expectError("mongod_servers:\n  - host: localhost\n   port: [1,\n", "yaml_syntax", 3, /.+/);
  // A key indented one space short: the column it belongs at (tester33, tester37).
  const short = await expectError(
    "mongod_servers:\n  - host: localhost\n    port: 28201\n   replica_set: rs0\n",
    "yaml_syntax",
    4,
    /^this key is at column 4, but the keys of its entry \(line 2\) start at column 5/,
  );
  assert.match(
    short.hint!,
    /^start it at column 5, in line with the first key after the entry's `- `/,
  );
  // A key indented deeper than the one above it: one problem, at its own line (tester34 L2).
  const deep = "mongod_servers:\n  - host: localhost\n    port: 27017\n      replica_set: rs0\n";
  assert.equal((await errorsOf(deep)).length, 1, JSON.stringify(await errorsOf(deep)));
  const over = await expectError(
    deep,
    "yaml_syntax",
    4,
    /^indented deeper than the key on line 3 above it, so YAML reads it as part of that key's value/,
  );
  assert.equal(over.location.column, 7);
  // A tab in the indentation: said to be one, with the fix (tester34 L2).
  const tab = await expectError(
    "mongod_servers:\n  - host: localhost\n\tport: 27017\n",
    "yaml_syntax",
    3,
    /Tabs are not allowed as indentation/,
  );
  assert.match(tab.hint!, /^indent with spaces: YAML does not allow tabs in indentation/);
  // Spaces then a tab: the parser calls it misaligned; the hint names the tab (tester36 LOW).
  const mixed = await expectError(
    "mongod_servers:\n  - host: localhost\n  \t port: 27017\n",
    "yaml_syntax",
    3,
    /./,
  );
  assert.match(mixed.hint!, /^indent with spaces/);
  // The lines after a tabbed one are not blamed for it too (tester37).
  const after = "mongod_servers:\n  - host: localhost\n\tport: 27017\n    replica_set: rs0\n";
  assert.equal((await errorsOf(after)).length, 1, JSON.stringify(await errorsOf(after)));
  await expectError("- just\n- a list\n", "not_a_mapping", 1, /must be a YAML mapping/);
  // Another file given by mistake: said to be no topology, its content (secrets?) not echoed.
  const shadow = "root:*:20228:0:99999:7:::\ndaemon:*:20228:0:99999:7:::\n";
  const hit = await expectError(shadow, "not_a_topology", 1, /not a mup topology: none of its 2/);
  const all = JSON.stringify(await errorsOf(shadow));
  assert.doesNotMatch(all, /root|daemon|20228/);
  // A topology with a misspelt key still gets its "did you mean".
  await expectError("mongod_server:\n  - host: localhost\n", "unknown_key", 1, /did you mean/);
  assert.match(hit.hint!, /check the path/);
});

Deno.test("a key written twice is named, with its field path and the line it was first written on", async () => {
  const hit = await expectError(
    "global:\n  user: mongo\nmongod_servers:\n  - host: localhost\n    port: 27017\n    port: 27018\n",
    "duplicate_key",
    6,
    /^duplicate key "port" \(first at line 5\)/,
  );
  assert.equal(hit.location.path, "mongod_servers[0].port");
  assert.equal(hit.first_occurrence?.line, 5);
  assert.match(hit.hint!, /keep one `port:`/);
  // Two at once, one of them in a flow mapping on one line: each named.
  const issues = await errorsOf(
    "global:\n  user: a\nglobal:\n  user: b\nmongod_servers:\n  - { host: localhost, port: 1, port: 2 }\n",
  );
  assert.deepEqual(
    issues.map((i) => [i.code, i.location.line, i.location.path, i.first_occurrence?.line]),
    [["duplicate_key", 3, "global", 1], ["duplicate_key", 6, "mongod_servers[0].port", 6]],
  );
  assert.match(issues[1].message, /duplicate key "port" \(first at line 6, column \d+\)/);
  // After a key with an empty value (the parser points at that value): the repeat is named all
  // the same, at its own line.
  const empty = await expectError(
    "mongod_servers:\n  - host: localhost\n    port:\n    port: 28001\n",
    "duplicate_key",
    4,
    /^duplicate key "port" \(first at line 3\)/,
  );
  assert.equal(empty.location.path, "mongod_servers[0].port");
  // A file too large for the positioned parser: js-yaml's report, the key named all the same.
  const big = "# " + "x".repeat(100) + "\n";
  const [large] = await errorsOf(
    big.repeat(1000) +
      "global:\n  user: a\n  user: b\nmongod_servers:\n  - { host: localhost, port: 1 }\n",
  );
  assert.equal(large.code, "duplicate_key");
  assert.equal(large.location.line, 1003);
  assert.match(large.message, /duplicate key "user"/);
});

Deno.test("another tool's name for a hook event (on_failure, post_apply) is told the event it means here (tester41 L7)", async () => {
  const hit = await expectError(
    'mongod_servers:\n  - { host: localhost, port: 1 }\nhooks:\n  on_failure: { command: "true" }\n  post_apply: { command: "true" }\n',
    "unknown_key",
    4,
    /unknown key "on_failure" \(did you mean "on_error"\?\)/,
  );
  assert.equal(hit.hint, 'rename it to "on_error"');
  const all = await errorsOf(
    'mongod_servers:\n  - { host: localhost, port: 1 }\nhooks:\n  post_apply: { command: "true" }\n',
  );
  assert.match(all[0].message, /did you mean "after_apply"/);
});

Deno.test("a key written twice: a problem with its value is placed at the later one, whose value is the one read (tester40 L5)", async () => {
  const issues = await errorsOf(
    "mongod_servers:\n  - host: localhost\n    port: 1\n    runtime_config:\n      net.maxIncomingConnections: 2000\n      net.maxIncomingConnections: 3\n",
  );
  const value = issues.find((i) => /not 3/.test(i.message));
  assert.ok(value, JSON.stringify(issues));
  assert.equal(value.location.line, 6, JSON.stringify(value));
  assert.ok(issues.some((i) => i.code === "duplicate_key" && i.location.line === 6));
});

Deno.test("a key written twice does not hide the file's other problems: form problems, or problems between entries, are listed with it in file order", async () => {
  const form = await errorsOf(
    "global:\n  user: a\n  user: b\nmongod_servers:\n  - { host: localhost, port: abc, bogus: 1 }\n",
  );
  assert.deepEqual(form.map((i) => i.location.line), [3, 5, 5]);
  assert.equal(form[0].code, "duplicate_key");
  assert.ok(form.some((i) => i.code === "unknown_key"), JSON.stringify(form));
  assert.ok(form.some((i) => i.location.path === "mongod_servers[0].port"), JSON.stringify(form));
  const between = await errorsOf(
    "mongod_servers:\n  - { host: localhost, port: 1, replica_set: rs0 }\n  - { host: localhost, port: 1, replica_set: rs0 }\nglobal:\n  user: a\n  user: b\n",
  );
  assert.equal(between.length, 2, JSON.stringify(between));
  assert.equal(between.at(-1)?.code, "duplicate_key");
  assert.match(between[0].message, /localhost:1/);
});

Deno.test("every problem is reported at once", async () => {
  const issues = await errorsOf(
    "mongod_servers:\n  - { host: localhost, port: 1, bogus: 1 }\n  - { host: localhost, port: 2, also_bad: 2 }\n",
  );
  assert.equal(issues.filter((i) => i.code === "unknown_key").length, 2);
});

Deno.test("topology schema exports as JSON Schema and knows every section", () => {
  const schema = z.toJSONSchema(Topology, { io: "input", unrepresentable: "any" }) as {
    properties: Record<string, unknown>;
  };
  for (const k of ["global", "mongod_servers", "config_servers", "mongos_servers", "hooks"]) {
    assert.ok(k in schema.properties, k);
  }
});

Deno.test("runtime_config may not set what mup manages (port, dbPath, set name, security…): an error at the key naming the field to use", async () => {
  await expectError(
    "global:\n  runtime_config:\n    net.port: 29999\nmongod_servers:\n  - { host: localhost, port: 27017 }\n",
    "managed_setting",
    3,
    /net\.port is set by mup.*the entry's `port`/s,
  );
  await expectError(
    "mongod_servers:\n  - host: localhost\n    port: 27017\n    replica_set: r\n    runtime_config:\n      replication:\n        replSetName: other\n",
    "managed_setting",
    7,
    /replication\.replSetName.*`replica_set`/s,
  );
  await expectError(
    "mongod_servers:\n  - host: localhost\n    runtime_config: { storage.dbPath: /elsewhere, security.authorization: disabled }\n",
    "managed_setting",
    3,
    /storage\.dbPath.*`data_dir`/s,
  );
  // Settings mup leaves to the user stay allowed.
  await parseTopology(
    "global:\n  runtime_config: { net.maxIncomingConnections: 100, storage.wiredTiger.engineConfig.cacheSizeGB: 1 }\nmongod_servers:\n  - { host: localhost }\n",
    "t.yaml",
  );
});

Deno.test("runtime_config keys and values are checked against mongod's and mongos's options: a misspelt key, a wrong type, a value out of bounds or not allowed, a key for the other binary", async () => {
  const rs = (rc: string) =>
    `mongod_servers:\n  - host: localhost\n    port: 27017\n    runtime_config:\n${rc}`;
  const typo = await expectError(
    rs("      storage.wiredTiger.engineConfig.cacheSizeGb: 1\n"),
    "unknown_option",
    5,
    /cacheSizeGb is not a mongod option: mongod would refuse to start \("Unrecognized option/,
  );
  assert.equal(typo.hint, "did you mean storage.wiredTiger.engineConfig.cacheSizeGB?");
  // At the key that is wrong, not at its value (tester111 #5).
  assert.equal(typo.location.column, 7);
  // A command-line name written as a file key: the file key it stands for.
  const cli = await expectError(
    rs("      net: { maxConns: 10 }\n"),
    "unknown_option",
    5,
    /maxConns/,
  );
  assert.equal(cli.hint, "did you mean net.maxIncomingConnections?");
  assert.equal(cli.location.column, 14, "at maxConns, in its flow mapping");
  // A misspelt section is that key's fault, not its option's (tester112 D).
  const section = await expectError(
    rs("      storag:\n        dbPath: /x\n"),
    "unknown_option",
    5,
    /storag\.dbPath is not a mongod option/,
  );
  assert.equal(section.location.column, 7, "at storag, not at dbPath");
  assert.equal(section.hint, "did you mean storage.dbPath?");
  const type = await expectError(
    rs("      net:\n        maxIncomingConnections: lots\n"),
    "option_value",
    6,
    /net\.maxIncomingConnections must be a whole number, not "lots"/,
  );
  assert.match(type.hint!, /write a whole number of at least 5/);
  await expectError(
    rs("      storage.journal.commitIntervalMs: 900\n"),
    "option_value",
    5,
    /commitIntervalMs must be a whole number from 1 to 500, not 900/,
  );
  const choice = await expectError(
    rs("      operationProfiling: { mode: sometimes }\n"),
    "option_value",
    5,
    /operationProfiling\.mode must be one of off, slowOp, all, not "sometimes"/,
  );
  assert.equal(choice.hint, "use one of: off, slowOp, all");
  await expectError(
    rs("      systemLog.component.replication.level: 2\n"),
    "option_value",
    5,
    /systemLog\.component\.replication\.level is not a component's verbosity/,
  );
  // global.runtime_config goes to mongos too: a storage option there stops every mongos.
  const sharded = (global: string, mongos = "") =>
    `global:\n  runtime_config:\n${global}` +
    "config_servers:\n  - { host: localhost, port: 27019, replica_set: cfg }\n" +
    "mongod_servers:\n  - { host: localhost, port: 27018, replica_set: s1 }\n" +
    `mongos_servers:\n  - host: localhost\n    port: 27017\n${mongos}`;
  const role = await expectError(
    sharded("    storage.wiredTiger.engineConfig.cacheSizeGB: 0.5\n"),
    "option_role",
    3,
    /cacheSizeGB is a mongod option, which mongos does not accept: mongos would refuse to start/,
  );
  assert.match(
    role.hint!,
    /move .*cacheSizeGB to the runtime_config of each mongod_servers and config_servers entry/,
  );
  const onMongos = await expectError(
    sharded(
      "    net.maxIncomingConnections: 100\n",
      "    runtime_config: { storage.engine: wiredTiger }\n",
    ),
    "option_role",
    11,
    /storage\.engine is a mongod option, which mongos does not accept/,
  );
  assert.equal(onMongos.hint, "remove storage.engine from this mongos entry's runtime_config");
  // What the servers accept passes: maps of parameters (written nested or dotted), a
  // component's verbosity, lists, a mongos-only option on a mongos, numbers as strings.
  await parseTopology(
    sharded(
      "    setParameter: { enableLocalhostAuthBypass: false }\n" +
        "    setParameter.transactionLifetimeLimitSeconds: 90\n" +
        "    systemLog.component.replication.verbosity: 2\n" +
        "    net.compression.compressors: snappy,zstd\n" +
        "    security.clusterIpSourceAllowlist: [127.0.0.1]\n" +
        // mongod reads every scalar as a string and parses it: "true" is a bool.
        "    net.wireObjectCheck: 'true'\n" +
        "    systemLog.component.storage.journal.verbosity: '1'\n" +
        // TLS settings mup does not write are the operator's.
        "    net.tls.disabledProtocols: TLS1_0,TLS1_1\n",
      "    runtime_config: { replication.localPingThresholdMs: '15', " +
        "operationProfiling.filter: '{ millis: { $gt: 250 } }' }\n",
    ),
    "t.yaml",
  );
  // What mongod refuses although the key exists: a list given as one value, a parameter map
  // holding a list, a value every supported server refuses.
  await expectError(
    rs("      security.clusterIpSourceAllowlist: 10.0.0.0/8\n"),
    "option_value",
    5,
    /must be a list of single values \(a YAML sequence, even for one value\)/,
  );
  await expectError(
    rs("      setParameter: { foo: [1, 2] }\n"),
    "option_value",
    5,
    /setParameter must be a mapping of names to single values/,
  );
  await expectError(
    rs("      replication.enableMajorityReadConcern: false\n"),
    "option_value",
    5,
    /enableMajorityReadConcern:false is no longer supported/,
  );
  // One option written dotted and nested: one value would silently win.
  await expectError(
    rs(
      "      storage.wiredTiger.engineConfig.cacheSizeGB: 1\n" +
        "      storage: { wiredTiger: { engineConfig: { cacheSizeGB: 8 } } }\n",
    ),
    "option_twice",
    6,
    /cacheSizeGB is written twice in this runtime_config \(dotted and nested\)/,
  );
  // No "did you mean" from another section: auditLog.destination is not a misspelt
  // systemLog.destination.
  const audit = await expectError(
    rs("      auditLog.destination: file\n"),
    "unknown_option",
    5,
    /auditLog\.destination is not a mongod option/,
  );
  assert.doesNotMatch(audit.hint!, /did you mean/);
  // A merge key merges (topology_test "merge keys"); quoted, it is a plain key: said as such,
  // not as a misspelt option.
  await expectError(
    rs('      "<<": { storage: { engine: wiredTiger } }\n'),
    "yaml_merge_key",
    5,
    /no server option is named `<<`: quoted, it is a plain key, not a merge key/,
  );
  // 0700: octal to mongod, decimal to YAML 1.2 (mup would write 700); quoted, it stays 0700.
  const octal = await expectError(
    rs("      net.unixDomainSocket.filePermissions: 0700\n"),
    "octal_number",
    5,
    /0700 is octal to mongod .* mup would write 700, not 448 \(0o700\)/,
  );
  assert.equal(
    octal.hint,
    "write '0700' in quotes (mongod then reads it as octal) or the decimal 448",
  );
  await parseTopology(rs("      net.unixDomainSocket.filePermissions: '0700'\n"), "t.yaml");
  // Combinations and values mongod checks itself: bindIp beside bindIpAll, compressor names.
  await expectError(
    rs("      net: { bindIp: 0.0.0.0, bindIpAll: true }\n"),
    "option_conflict",
    5,
    /net\.bindIp and net\.bindIpAll are mutually exclusive/,
  );
  await expectError(
    rs("      net.compression.compressors: snappy,lz4\n"),
    "option_value",
    5,
    /names lz4, which mongod does not have/,
  );
  // systemLog.component as MongoDB's manual writes it, nested.
  await parseTopology(
    rs(
      "      systemLog: { component: { replication: { verbosity: 1, election: { verbosity: 2 } } } }\n",
    ),
    "t.yaml",
  );
  // An option a later series added: an error for the series before.
  const added = await errorsOf2(rs("      net.tls.clusterAuthX509.attributes: O=MongoDB\n"), {
    version: "6.0",
  });
  assert.match(added[0].message, /not a mongod 6\.0 option \(new in 7\.0\)/);
  // An option a later series removed: an error for that series, fine for the one that has it.
  const journal = rs("      storage.journal.enabled: true\n");
  await parseTopology(journal, "t.yaml", undefined, { version: "6.0" });
  const removed = await errorsOf2(journal, { version: "7.0.14" });
  assert.deepEqual(removed.map((i) => i.code), ["option_removed"]);
  assert.match(removed[0].message, /not a mongod 7\.0\.14 option \(removed in 6\.1\)/);
  // Without a journal a 6.0 replica-set member does not start (mongod_main.cpp, exit 2).
  const off = await errorsOf2(
    rs("      storage.journal.enabled: false\n").replace(
      "    port: 27017\n",
      "    port: 27017\n    replica_set: rs0\n",
    ),
    { version: "6.0" },
  );
  // A standalone may run without one.
  await parseTopology(rs("      storage.journal.enabled: false\n"), "t.yaml", undefined, {
    version: "6.0",
  });
  assert.deepEqual(off.map((i) => i.code), ["option_value"]);
  assert.match(off[0].message, /in a replica-set member: mongod refuses to start/);
  assert.match(off[0].hint ?? "", /remove storage\.journal\.enabled/);
  // Percona Server's binaries accept options MongoDB's do not: for that variant an unknown key is
  // a warning, a wrong value still an error.
  const percona = await parseTopology(
    rs("      security.enableEncryption: true\n"),
    "t.yaml",
    undefined,
    { variant: "percona" },
  );
  const w = percona.warnings.find((i) => i.code === "unknown_option");
  assert.ok(w, JSON.stringify(percona.warnings));
  assert.match(
    w.message,
    /not a MongoDB Community mongod option; mup cannot tell whether percona's/,
  );
  await assert.rejects(
    parseTopology(rs("      net.maxIncomingConnections: lots\n"), "t.yaml", undefined, {
      variant: "percona",
    }),
    TopologyError,
  );
});

Deno.test("problems are listed in the file's order, whichever rule found them", async () => {
  const issues = await errorsOf(
    [
      "mongod_servers:",
      "  - { host: localhost, port: 1 }",
      "  - { host: localhost, port: 1 }",
      "  - host: localhost",
      "    port: 2",
      "    runtime_config: { net: { port: 3 } }",
    ].join("\n") + "\n",
  );
  const lines = issues.map((i) => i.location.line ?? 0);
  assert.ok(lines.length >= 2, JSON.stringify(issues));
  assert.deepEqual(lines, [...lines].sort((a, b) => a - b), JSON.stringify(issues));
});

Deno.test("a replica set's connection string seeds only the members clients use: no arbiter, no hidden member", async () => {
  const { connectionString } = await import("../lib/plan/processes.ts");
  const t = (await parseTopology(
    [
      "mongod_servers:",
      "  - { host: localhost, port: 1, replica_set: rs0 }",
      "  - { host: localhost, port: 2, replica_set: rs0 }",
      "  - { host: localhost, port: 3, replica_set: rs0, arbiter_only: true }",
      "  - { host: localhost, port: 4, replica_set: rs0, hidden: true, priority: 0 }",
    ].join("\n") + "\n",
    "t.yaml",
  )).topology;
  assert.match(
    connectionString(t),
    /^mongodb:\/\/(admin@)?localhost:1,localhost:2\/\?replicaSet=rs0/,
  );
});

Deno.test("values out of a set or a range say what is allowed: a misspelt hook phase, a port over 65535, an empty command, a duration that is none", async () => {
  const issues = await errorsOf(
    "mongod_servers:\n  - { host: localhost, port: 70000 }\nhooks:\n" +
      '  after_phase: { command: "", phase: "Deploy phase", timeout: 5x }\n',
  );
  const at = (p: string) => issues.filter((i) => i.path?.join(".") === p);
  // Any plan's phase is a name (a misspelt one is said when a plan lacks it: hooks_test.ts).
  const [phase] = at("hooks.after_phase.phase");
  assert.match(
    phase.message,
    /must be a phase name: letters, digits and '-', starting with a lower-case letter/,
  );
  assert.equal(phase.location.line, 4);
  const [port] = at("mongod_servers.0.port");
  assert.match(port.message, /must be at most 65535, not number 70000/);
  assert.match(at("hooks.after_phase.command")[0].message, /a hook needs a command/);
  // One problem for "5x" (not also "out of range"), and no union's bare "Invalid input".
  const timeout = at("hooks.after_phase.timeout");
  assert.equal(timeout.length, 1, JSON.stringify(timeout));
  assert.match(
    timeout[0].message,
    /must be a duration in whole units such as 30s, 5m, 1h30m or 1s500ms, not the string "5x"/,
  );
  // A pattern's refusal says what is wrong and what to write, not "correct the value" (tester40).
  assert.equal(
    timeout[0].hint,
    "write a duration in whole units such as 30s, 5m, 1h30m or 1s500ms",
  );
  assert.equal(phase.hint?.startsWith("write a phase name"), true, phase.hint);
  assert.ok(!issues.some((i) => /Invalid input/.test(i.message)), JSON.stringify(issues));
});

Deno.test("an entry's own deploy_dir holds its relative data_dir, log_dir and config_dir, and the global relative ones (as TiUP places them); without one, they are under the global deploy_dir", () => {
  const t = Topology.parse({
    global: { deploy_dir: "/srv/mup" },
    mongod_servers: [
      {
        host: "localhost",
        port: 27017,
        deploy_dir: "/opt/a",
        data_dir: "data",
        log_dir: "logs",
        config_dir: "conf",
      },
      { host: "localhost", port: 27018, deploy_dir: "b", data_dir: "data" },
      { host: "localhost", port: 27019, data_dir: "data-c" },
    ],
  });
  const [a, b, c] = t.mongod_servers.map((n) => nodeDirs(t, n, "mongod", "/unused"));
  assert.deepEqual([a.deploy, a.data, a.log, a.config], [
    "/opt/a",
    "/opt/a/data",
    "/opt/a/logs",
    "/opt/a/conf",
  ]);
  assert.deepEqual([b.deploy, b.data, b.log, b.config], [
    "/srv/mup/b",
    "/srv/mup/b/data",
    "/srv/mup/b/logs",
    "/srv/mup/b/conf",
  ]);
  assert.deepEqual([c.deploy, c.data, c.log], [
    "/srv/mup/mongod-27019",
    "/srv/mup/data-c",
    "/srv/mup/logs/mongod-27019",
  ]);
});

Deno.test("two replica set names without config servers and mongos: refused (one topology, one set), naming the second set's line", async () => {
  const hit = await expectError(
    "mongod_servers:\n  - { host: localhost, port: 1, replica_set: rs0 }\n  - { host: localhost, port: 2, replica_set: rs0 }\n  - { host: localhost, port: 3, replica_set: rs1 }\n",
    "several_replica_sets",
    4,
    /replica set "rs1" beside "rs0"/,
  );
  assert.match(hit.hint!, /use replica_set: rs0 on every mongod/);
});

Deno.test("two mongod_servers without replica_set: refused at the second entry (most likely a forgotten replica_set), naming the key that makes them one set (tester40 M2)", async () => {
  const hit = await expectError(
    "mongod_servers:\n  - { host: localhost, port: 1 }\n  - { host: localhost, port: 2 }\n",
    "several_standalones",
    3,
    /2 mongod_servers without replica_set: a standalone topology has one mongod/,
  );
  assert.match(hit.hint!, /set replica_set \(for example: rs0\) on every mongod/);
});

Deno.test("merge keys share an anchored entry's settings (anchored in an x- key or in the first entry); YAML 1.2 still reads 0700 as 700; an error in a merged entry names it", async () => {
  const { topology } = await parseTopology(
    "x-member: &m\n  host: localhost\n  replica_set: rs0\n  runtime_config: { net: { maxIncomingConnections: 0700 } }\n" +
      "mongod_servers:\n  - <<: *m\n    port: 1\n  - <<: *m\n    port: 2\n    priority: 2\n" +
      "  - &third { host: localhost, replica_set: rs0, port: 3 }\n",
    "topo.yaml",
  );
  assert.deepEqual(
    topology.mongod_servers.map((s) => [s.host, s.port, s.replica_set, s.priority]),
    [["localhost", 1, "rs0", undefined], ["localhost", 2, "rs0", 2], [
      "localhost",
      3,
      "rs0",
      undefined,
    ]],
  );
  assert.deepEqual(topology.mongod_servers[1].runtime_config, {
    net: { maxIncomingConnections: 700 },
  });
  assert.ok(!("x-member" in topology), "x- keys are the file's own");
  await expectError(
    "mongod_servers:\n  - &m { host: localhost, port: 1 }\n  - <<: *m\n    port: x\n",
    "invalid_type",
    4,
    /expected a number, got the string "x"/,
  );
});

Deno.test("a relative global deploy_dir (., empty, ~, $HOME, a name) is an error: the deploy root must not depend on where mup runs", async () => {
  for (const root of ['"."', '""', '"~"', "$HOME", "clusters/c1"]) {
    await expectError(
      `global:\n  deploy_dir: ${root}\nmongod_servers:\n  - host: localhost\n`,
      "relative_deploy_root",
      2,
      /is not an absolute path: the deploy root must not depend on the directory mup runs from/,
    );
  }
});

Deno.test("a phase on a hook of an event outside any phase (before_apply, on_success…) is an error at its line: it would never run", async () => {
  const hit = await expectError(
    "mongod_servers:\n  - host: localhost\nhooks:\n  on_success:\n    - { command: a }\n" +
      "    - { command: b, phase: finalize }\n  after_phase: { command: c, phase: deploy }\n",
    "custom",
    6,
    /this event happens outside any phase, so a hook of it with a phase would never run/,
  );
  assert.equal(hit.hint, "remove phase from this hook, or give it to an after_phase hook");
  assert.deepEqual(hit.path, ["hooks", "on_success", 1, "phase"]);
});

Deno.test("a phase hook for a phase no plan of the cluster's kind has is warned of at its line, with the other kind's name or the closest one; a phase some plan has is not", async () => {
  const t = await parseTopology(
    "mongod_servers:\n  - { host: localhost, port: 1, replica_set: rs }\n" +
      "  - { host: localhost, port: 2, replica_set: rs }\n  - { host: localhost, port: 3, replica_set: rs }\n" +
      "hooks:\n" +
      "  before_phase: { command: 'true', phase: foo }\n" +
      "  after_phase:\n" +
      "    - { command: 'true', phase: restart-shards }\n" +
      "    - { command: 'true', phase: restart-mongd }\n" +
      "    - { command: 'true', phase: restart-mongod }\n" +
      "    - { command: 'true', phase: undo-initialize }\n",
    "t.yaml",
  );
  const hooks = t.warnings.filter((w) => w.code === "hook_phase_unknown");
  assert.deepEqual(
    hooks.map((w) => [w.location.line, w.location.path, w.message]),
    [
      [
        6,
        "hooks.before_phase.phase",
        "this hook is for phase foo, which no plan of a replica set has: it will never run",
      ],
      [
        8,
        "hooks.after_phase[0].phase",
        "this hook is for phase restart-shards, which no plan of a replica set has: it will " +
        'never run; a replica set names that phase "restart-mongod"; restart-shards is a ' +
        "sharded cluster's",
      ],
      [
        9,
        "hooks.after_phase[1].phase",
        "this hook is for phase restart-mongd, which no plan of a replica set has: it will " +
        'never run; did you mean "restart-mongod"?',
      ],
    ],
  );
  assert.match(hooks[0].hint!, /remove `phase` to run it in every phase/);
});

Deno.test("a hook written as a bare command (an event's value, or an item of its list) is told the form a hook takes", async () => {
  const [one] = await errorsOf(
    'mongod_servers:\n  - { host: localhost, port: 1 }\nhooks:\n  before_phase: "echo hi"\n',
  );
  assert.equal(one.location.line, 4);
  assert.equal(
    one.hint,
    'a hook is a mapping with its command: `before_phase: { command: "echo hi" }`, or a list of ' +
      "such mappings",
  );
  const [item] = await errorsOf(
    'mongod_servers:\n  - { host: localhost, port: 1 }\nhooks:\n  before_phase:\n    - "echo hi"\n',
  );
  assert.equal(item.location.line, 5);
  assert.equal(item.hint, 'a hook is a mapping with its command: `- { command: "echo hi" }`');
});

Deno.test("global.default_write_concern is refused at its line on a standalone and with a w above a set's data-bearing members (topology validate says so before any plan)", async () => {
  const set = (w: string) =>
    `global:\n  default_write_concern:\n    w: ${w}\nmongod_servers:\n` +
    "  - { host: localhost, port: 1, replica_set: rs0 }\n" +
    "  - { host: localhost, port: 2, replica_set: rs0 }\n" +
    "  - { host: localhost, port: 3, replica_set: rs0, arbiter_only: true }\n";
  const [tooMany, ...more] = await errorsOf(set("3"));
  assert.deepEqual(more, []);
  assert.equal(tooMany.location.line, 3);
  assert.match(
    tooMany.message,
    /^3 needs 3 data-bearing members to acknowledge each write, and rs0 would have 2: .*UnsatisfiableWriteConcern/,
  );
  assert.match(tooMany.hint ?? "", /give w: "majority" or at most 2/);
  // As many as the set's data-bearing members, or majority: accepted.
  assert.equal(
    (await parseTopology(set("2"), "t.yaml")).topology.global.default_write_concern?.w,
    2,
  );
  await parseTopology(set("majority"), "t.yaml");
  const [standalone] = await errorsOf(
    "mongod_servers:\n  - { host: localhost, port: 1 }\nglobal:\n  default_write_concern: { w: 1 }\n",
  );
  assert.equal(standalone.location.line, 4);
  assert.match(standalone.message, /a standalone mongod has no cluster-wide default write concern/);
});

Deno.test("a replica set with a second arbiter is refused at that arbiter, as MongoDB 5.3+ refuses it, unless every member allows it (then a warning); one arbiter is neither", async () => {
  const set = (arbiters: number, global = "") =>
    global + "mongod_servers:\n  - { host: localhost, port: 1, replica_set: rs0 }\n" +
    "  - { host: localhost, port: 2, replica_set: rs0 }\n" +
    "  - { host: localhost, port: 3, replica_set: rs0 }\n" +
    Array.from(
      { length: arbiters },
      (_, i) => `  - { host: localhost, port: ${4 + i}, replica_set: rs0, arbiter_only: true }\n`,
    ).join("");
  const [two, ...more] = (await errorsOf(set(2))).filter((i) => i.code === "several_arbiters");
  assert.deepEqual(more, []);
  assert.equal(two.location.line, 6);
  assert.match(
    two.message,
    /replica set "rs0" has 2 arbiters: MongoDB 5\.3 and later refuse the configuration/,
  );
  assert.match(two.hint ?? "", /allowMultipleArbiters: true/);
  // Allowed on every member (globally): said as a warning.
  const allowed = await parseTopology(
    set(2, "global:\n  runtime_config:\n    setParameter: { allowMultipleArbiters: true }\n"),
    "t.yaml",
  );
  const warned = allowed.warnings.filter((w) => w.code === "several_arbiters");
  assert.equal(warned.length, 1, JSON.stringify(allowed.warnings));
  assert.match(warned[0].message, /has 2 arbiters: arbiters vote but hold no data/);
  // Before 5.3 MongoDB takes them: a warning too.
  const old = (await parseTopology(set(2), "t.yaml", undefined, { version: "5.0.9" })).warnings;
  assert.ok(old.some((w) => w.code === "several_arbiters"), JSON.stringify(old));
  const one = (await parseTopology(set(1), "t.yaml")).warnings;
  assert.ok(!one.some((w) => w.code === "several_arbiters"), JSON.stringify(one));
});

Deno.test("a default write concern every data-bearing member must acknowledge is warned of at w (a majority of a primary-secondary-arbiter set, a w of all members); one a member may be down for is not", async () => {
  const text = (w: string, arbiter: boolean) =>
    `global:\n  default_write_concern: { w: ${w} }\nmongod_servers:\n` +
    "  - { host: localhost, port: 1, replica_set: rs0 }\n" +
    "  - { host: localhost, port: 2, replica_set: rs0 }\n" +
    `  - { host: localhost, port: 3, replica_set: rs0${arbiter ? ", arbiter_only: true" : ""} }\n`;
  const warned = async (w: string, arbiter: boolean) =>
    (await parseTopology(text(w, arbiter), "t.yaml")).warnings.filter((i) =>
      i.code === "default_write_concern_all_members"
    );
  const [psa] = await warned("majority", true);
  assert.equal(psa?.location.line, 2);
  assert.match(
    psa.message,
    /"majority" needs every voting data-bearing member of rs0 \(2\) to acknowledge a write: while one is down or restarting, writes that name no write concern wait, with no end \(its arbiters vote but hold no data\)/,
  );
  assert.match(psa.hint ?? "", /give w: 1/);
  assert.equal((await warned("3", false)).length, 1);
  assert.deepEqual(await warned("majority", false), []);
  assert.deepEqual(await warned("2", false), []);
  assert.deepEqual(await warned("1", true), []);
});

Deno.test("a global data, log or config directory of / is warned of at its line (each process's directory would sit at the filesystem's top); /var/log is a parent like any other", async () => {
  const at = async (dir: string) =>
    (await parseTopology(
      `global:\n  log_dir: ${dir}\nmongod_servers:\n  - { host: localhost, port: 1 }\n`,
      "t.yaml",
    )).warnings.filter((w) => w.code === "root_parent_dir");
  const [root] = await at("/");
  assert.equal(root?.location.line, 2);
  assert.match(root.message, /log_dir \/ puts each process's directory at the top/);
  assert.deepEqual(await at("/var/log"), []);
});

Deno.test("a sharded topology with a shard whose implicit default write concern is {w: 1} and no default_write_concern is warned of at its arbiter (MongoDB 5.1+ addShard refuses it); with one, or for 5.0, it is not", async () => {
  const text = (global: string) =>
    global + "config_servers:\n  - { host: localhost, port: 1, replica_set: cfg }\n" +
    "mongos_servers:\n  - { host: localhost, port: 2 }\n" +
    "mongod_servers:\n  - { host: localhost, port: 3, replica_set: sh1 }\n" +
    "  - { host: localhost, port: 4, replica_set: sh1 }\n" +
    "  - { host: localhost, port: 5, replica_set: sh1, arbiter_only: true }\n";
  const warned = async (global: string, version?: string) =>
    (await parseTopology(text(global), "t.yaml", undefined, version ? { version } : undefined))
      .warnings.filter((w) => w.code === "shard_needs_default_write_concern");
  const [w] = await warned("");
  assert.equal(w?.location.line, 8);
  assert.match(w.message, /shard sh1's implicit default write concern is \{w: 1\}/);
  assert.deepEqual(await warned("global:\n  default_write_concern: { w: 1 }\n"), []);
  assert.deepEqual(await warned("", "5.0.9"), []);
});

Deno.test("a default write concern's wtimeout of 0 is MongoDB's 'no time limit' (as getDefaultRWConcern reports it), taken as none; a unit-less fraction is refused with the form to write (tester73)", async () => {
  const t = (wtimeout: string) =>
    `global:\n  default_write_concern: { w: 1, wtimeout: ${wtimeout} }\nmongod_servers:\n` +
    "  - { host: localhost, port: 1, replica_set: rs0 }\n";
  for (const zero of ["0", "0s", "0ms"]) {
    const loaded = await parseTopology(t(zero), "t.yaml");
    assert.deepEqual(loaded.topology.global.default_write_concern, { w: 1 }, zero);
  }
  const [fraction] = await errorsOf(t("1.5s"));
  assert.match(fraction.message, /whole units such as 30s, 5m, 1h30m or 1s500ms/);
});

Deno.test("the even-voters warning of a set that has its arbiter asks for a data-bearing member, not another arbiter (tester73)", async () => {
  const t = await parseTopology(
    "mongod_servers:\n  - { host: localhost, port: 1, replica_set: rs0 }\n" +
      "  - { host: localhost, port: 2, replica_set: rs0 }\n" +
      "  - { host: localhost, port: 3, replica_set: rs0 }\n" +
      "  - { host: localhost, port: 4, replica_set: rs0, arbiter_only: true }\n",
    "t.yaml",
  );
  const even = t.warnings.find((w) => w.code === "even_voters");
  assert.equal(
    even?.hint,
    "add another data-bearing voting member (the set has its arbiter already)",
  );
});
