/** The planner's side of global.security: pure, no processes. */
import assert from "node:assert/strict";
import * as path from "node:path";
import { planDeploy } from "../lib/plan/planner.ts";
import { clusterDifferences } from "../lib/plan/redeploy.ts";
import { allOperations, type Plan } from "../lib/plan/schema.ts";
import { withSecurityDefaults } from "../lib/security/settings.ts";
import { groupDoneLine, groupOperations } from "../lib/render/groups.ts";
import { parseTopology } from "../lib/topology/load.ts";
import type { Topology } from "../lib/topology/schema.ts";
import { ROOT } from "./helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

async function topology(file: string, security?: string): Promise<Topology> {
  let text = await Deno.readTextFile(path.join(ROOT, "examples", file));
  if (security) text = text.replace(/^global:\n/m, `global:\n  security: ${security}\n`);
  if (security && !/^global:/m.test(text)) text = `global:\n  security: ${security}\n${text}`;
  return withSecurityDefaults((await parseTopology(text, file)).topology);
}

function plan(t: Topology): Omit<Plan, "content_hash"> {
  return planDeploy({
    planId: "plan-sec",
    createdAt: "2026-01-01T00:00:00.000Z",
    clusterName: "sec",
    topology: t,
    topologyFile: "/t.yaml",
    release: {
      version: "7.0.5",
      variant: "mongo",
      platform: "linux-x86_64",
      url: "https://example.invalid/m.tgz",
      sha256: "ab".repeat(32),
      size_bytes: 1,
      archive_name: "m.tgz",
    },
    deployDir: "/home/mup/deploy",
    cacheDir: "/home/mup/cache",
    clusterDir: "/home/mup/storage/clusters/sec",
    validation: { valid: true, errors: [], warnings: [], checks: [] },
    hooks: [],
    baseState: { lineage: "", serial: 0 },
    cached: false,
  });
}

Deno.test("default security: keyfile and password generated at apply time, keyfile installed before every start, configs with keyFile/authorization, users after initiation and before addShard; the plan names secrets only by reference", async () => {
  const p = plan(await topology("sharded.yaml"));
  const ops = allOperations(p);
  const byId = new Map(ops.map((o) => [o.id, o]));
  assert.equal(byId.get("secret-keyfile")?.type, "generate_secret");
  assert.equal(byId.get("secret-admin")?.target.params.secret, "secret:admin");
  const upload = ops.find((o) => o.id.startsWith("upload-keyfile-"))!;
  assert.equal(upload.target.params.mode, "0400");
  assert.equal(upload.target.params.secret, "secret:keyfile");
  for (const o of ops.filter((o) => o.type === "start_process")) {
    assert.ok(o.depends_on.includes(upload.id), `${o.id} waits for the keyfile`);
  }
  for (const o of ops.filter((o) => o.type === "generate_config")) {
    const conf = o.target.params.content;
    assert.match(conf, /keyFile: \/home\/mup\/deploy\/secrets\/keyfile/);
    if (o.id.includes("mongos")) assert.doesNotMatch(conf, /authorization/);
    else assert.match(conf, /authorization: enabled/);
  }
  const users = ops.filter((o) => o.type === "create_user").map((o) => o.id).sort();
  assert.deepEqual(users, ["create-user-cluster", "create-user-shard1", "create-user-shard2"]);
  assert.ok(byId.get("create-user-shard1")!.depends_on.includes("init-rs-shard1"));
  for (const o of ops.filter((o) => o.type === "add_shard")) {
    assert.ok(o.depends_on.includes("create-user-cluster"), `${o.id} after the first user`);
    // Its shard's own user first: no shard joins open to the localhost exception.
    assert.ok(
      o.depends_on.includes(`create-user-${o.target.name}`),
      `${o.id} after its shard's user`,
    );
  }
  // The health check comes after every user (through the shard each precedes).
  assert.ok(byId.get("verify-health")!.depends_on.includes("add-shard-shard2"));
  const text = JSON.stringify(p);
  assert.doesNotMatch(text, /"pwd"|"password"/);
});

Deno.test("auth: false plans no security operation and no keyFile; tls: true plans a CA, a certificate per process and requireTLS configs", async () => {
  const open = allOperations(plan(await topology("replica-set.yaml", "{ auth: false }")));
  assert.ok(!open.some((o) => o.type === "generate_secret" || o.type === "create_user"));
  for (const o of open.filter((o) => o.type === "generate_config")) {
    assert.doesNotMatch(o.target.params.content, /keyFile|tls/);
  }
  const tls = allOperations(plan(await topology("replica-set.yaml", "{ tls: true }")));
  const starts = tls.filter((o) => o.type === "start_process");
  assert.ok(tls.some((o) => o.id === "secret-ca"));
  for (const s of starts) {
    assert.ok(tls.some((o) => o.id === `secret-cert-${s.target.name}`));
    assert.ok(s.depends_on.includes(`upload-cert-${s.target.name}`));
  }
  for (const o of tls.filter((o) => o.type === "generate_config")) {
    assert.match(o.target.params.content, /mode: requireTLS/);
    assert.match(o.target.params.content, /CAFile: \/home\/mup\/deploy\/secrets\/ca\.pem/);
  }
  // The progress lines name what was installed: key files, or certificates with the keyfile.
  const done = (p: Plan) =>
    groupOperations(p).filter((g) => g.key === "upload_file:secret").map((g) =>
      groupDoneLine(p, g)
    );
  const secured = {
    ...plan(await topology("replica-set.yaml", "{ tls: true }")),
    content_hash: "",
  };
  assert.ok(done(secured).some((l) => /^Installed \d+ (secret|TLS certificate) files on/.test(l)));
  assert.ok(done(secured).every((l) => !/key file/.test(l)), done(secured).join("; "));
});

Deno.test("a remote host's config also listens on its loopback (the localhost exception); a re-deploy that changes security is a difference", async () => {
  const t = await topology("replica-set.yaml");
  const remote: Topology = {
    ...t,
    mongod_servers: t.mongod_servers.map((s, i) => ({ ...s, host: `10.0.0.${i + 1}` })),
  };
  const conf = allOperations(plan(remote)).find((o) => o.type === "generate_config")!;
  assert.match(conf.target.params.content, /bindIp: "?127\.0\.0\.1,10\.0\.0\.1"?/);
  const legacy: Topology = { ...t, global: { ...t.global, security: undefined } };
  const diff = clusterDifferences(
    { topology: legacy, version: "7.0.5", variant: "mongo" },
    { topology: t, version: "7.0.5", variant: "mongo" },
    "/d",
  );
  assert.deepEqual(diff.map((d) => d.change), [
    "security.auth off → on (the recorded cluster runs without access control)",
  ]);
  const tlsOn: Topology = {
    ...t,
    global: { ...t.global, security: { ...t.global.security!, tls: true } },
  };
  assert.deepEqual(
    clusterDifferences(
      { topology: t, version: "7.0.5", variant: "mongo" },
      { topology: tlsOn, version: "7.0.5", variant: "mongo" },
      "/d",
    ).map((d) => d.command),
    ["tls"],
  );
});
