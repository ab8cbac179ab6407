/**
 * lib/plan/plan_configs.ts, pure: the configurations the planners write pass (deploy, with and
 * without auth and TLS; `cluster tls enable|disable`), and a configuration edited in a plan —
 * security removed, bindIp opened, another file uploaded in its place, a TLS step renamed — is
 * refused naming the operation, the process and the first differing line; for a recorded
 * cluster also when the plan's topology was edited along with it. And lib/plan/plan_uploads.ts:
 * the uploads the planners make pass; any other (a file of the store, the password, a secret
 * put elsewhere or on another host) is refused naming the operation and the parameter.
 */
import assert from "node:assert/strict";
import { compileHooks } from "../lib/hooks/compile.ts";
import { planDeploy } from "../lib/plan/planner.ts";
import { planConfigIssues, recordedConfigIssues } from "../lib/plan/plan_configs.ts";
import { planUploadIssues, recordedUploadIssues } from "../lib/plan/plan_uploads.ts";
import { listProcesses } from "../lib/plan/processes.ts";
import { planTls } from "../lib/plan/tls.ts";
import { allOperations, type Plan, type PlannedOperation } from "../lib/plan/schema.ts";
import { sealPlanText } from "../lib/plan/hash.ts";
import { checkPlanText } from "../lib/plan/validate.ts";
import { recordedProcess } from "../lib/state/meta_from_plan.ts";
import { recordedConfigs } from "../lib/plan/start_files.ts";
import { withTls } from "../lib/security/settings.ts";
import type { ClusterMeta } from "../lib/state/meta.ts";
import { parseTopology } from "../lib/topology/load.ts";

const STORE = "/home/mup/storage";
const CLUSTER_DIR = `${STORE}/clusters/c1`;

const TOPOLOGIES: Record<string, string> = {
  "sharded, auth": `
config_servers:
  - { host: db1.example.net, port: 27019, replica_set: cfg }
mongod_servers:
  - { host: db1.example.net, port: 27018, replica_set: s1 }
mongos_servers:
  - { host: 10.0.0.5, port: 27017 }
`,
  "replica set, TLS": `
global: { deploy_dir: /srv/mup/c1, security: { tls: true } }
mongod_servers:
  - { host: db1.example.net, port: 27017, replica_set: rs }
  - { host: db2.example.net, port: 27017, replica_set: rs }
`,
  "standalone, no access control": `
global: { security: { auth: false } }
mongod_servers:
  - { host: localhost, port: 27017 }
`,
};

async function deployPlan(yaml: string): Promise<Plan> {
  const parsed = (await parseTopology(yaml, "t.yaml")).topology;
  // As `cluster deploy` records it: the security section written out with its defaults.
  const t = {
    ...parsed,
    global: {
      ...parsed.global,
      security: { auth: true, tls: false, admin_user: "admin", ...parsed.global.security },
    },
  };
  return sealPlanText(planDeploy({
    planId: "plan-00000001",
    createdAt: "2026-01-01T00:00:00.000Z",
    clusterName: "c1",
    topology: t,
    topologyFile: "/t.yaml",
    release: {
      version: "7.0.14",
      variant: "mongo",
      platform: "linux-x86_64",
      url: "https://fastdl.mongodb.org/linux/x.tgz",
      sha256: "ab".repeat(32),
      size_bytes: 1,
      archive_name: "x.tgz",
    },
    deployDir: `${CLUSTER_DIR}/deploy`,
    cacheDir: "/home/mup/cache",
    clusterDir: CLUSTER_DIR,
    validation: { valid: true, errors: [], warnings: [], checks: [] },
    hooks: compileHooks(t.hooks, "/"),
    baseState: { lineage: "", serial: 0 },
    cached: false,
  })).plan;
}

function metaOf(plan: Plan): ClusterMeta {
  return {
    format_version: 1,
    name: "c1",
    lineage: "lineage-1",
    serial: 1,
    status: "running",
    kind: plan.kind,
    version: plan.version,
    variant: plan.variant,
    deploy_dir: plan.deploy_dir,
    connection_string: "mongodb://localhost:27017/",
    topology: plan.topology,
    processes: listProcesses(plan.topology, `${CLUSTER_DIR}/deploy`).map(recordedProcess),
    created_at: "2026-01-01T00:00:00.000Z",
    updated_at: "2026-01-01T00:00:00.000Z",
    last_plan_id: "plan-00000001",
    last_state_id: "apply-00000001",
  };
}

function tlsPlan(deploy: Plan, action: "enable" | "disable"): Plan {
  const meta = metaOf(deploy);
  return sealPlanText(planTls({
    planId: "plan-00000002",
    createdAt: "2026-01-01T00:00:00.000Z",
    meta,
    clusterDir: CLUSTER_DIR,
    deployDir: `${CLUSTER_DIR}/deploy`,
    hooks: [],
    facts: Object.fromEntries(meta.processes.map((p, i) => [p.id, {
      running: true,
      ...(p.replica_set ? { state: i === 0 ? "PRIMARY" : "SECONDARY" } : {}),
    }])),
    action,
  })).plan;
}

const configsOf = (p: Plan) => allOperations(p).filter((o) => o.type === "generate_config");
const messages = (p: Plan) => planConfigIssues(p).map((i) => i.message).join("\n");

for (const [name, yaml] of Object.entries(TOPOLOGIES)) {
  Deno.test(`configurations the planners write pass: ${name}`, async () => {
    const deploy = await deployPlan(yaml);
    const plans = [deploy];
    if (name.includes("TLS")) plans.push(tlsPlan(deploy, "disable"));
    else if (!name.includes("no access")) plans.push(tlsPlan(deploy, "enable"));
    for (const plan of plans) {
      assert.ok(configsOf(plan).length > 0, plan.operation);
      const { text } = sealPlanText(plan);
      const errors = checkPlanText(text, plan.operation, { storeRoot: STORE }).issues
        .filter((i) => i.severity === "error");
      assert.deepEqual(errors, [], `${plan.operation} plan`);
      assert.deepEqual(recordedConfigIssues(plan, metaOf(deploy)), [], plan.operation);
      const opts = { storeRoot: STORE };
      assert.deepEqual(recordedUploadIssues(plan, metaOf(deploy), opts), [], plan.operation);
    }
  });
}

Deno.test("a configuration whose security block was removed, or whose bindIp was opened, is refused naming the operation, the process and the line", async () => {
  const deploy = await deployPlan(TOPOLOGIES["sharded, auth"]);
  for (const o of configsOf(deploy)) {
    const open = structuredClone(deploy);
    const c = configsOf(open).find((x) => x.id === o.id)!;
    c.target.params.content = c.target.params.content.replace(/\nsecurity:\n( {2}.*\n)+/, "\n");
    assert.notEqual(c.target.params.content, o.target.params.content, o.id);
    assert.match(
      messages(open),
      new RegExp(
        `operation ${o.id} \\(generate_config\\): parameter "content" is not the configuration ` +
          `mup generates for ${o.target.name} on ${o.target.host} from this plan's topology: ` +
          `line \\d+ is the end of the file, expected "security:".*mup cluster deploy c1`,
      ),
    );
  }
  const bound = structuredClone(deploy);
  const c = configsOf(bound)[0];
  c.target.params.content = c.target.params.content.replace(/bindIp: .*/, "bindIp: 0.0.0.0");
  assert.match(
    messages(bound),
    /line 4 is " {2}bindIp: 0\.0\.0\.0", expected " {2}bindIp: \\"127\.0\.0\.1,db1/,
  );
});

Deno.test("a configuration uploaded from elsewhere, a process the topology lacks, or a renamed TLS step is refused", async () => {
  const deploy = await deployPlan(TOPOLOGIES["sharded, auth"]);
  const [a, b] = configsOf(deploy);
  // Another process's staged configuration, or a secret, uploaded as this one's.
  const swapped = structuredClone(deploy);
  const up = allOperations(swapped).find((o) => o.id === `upload-config-${a.target.name}`)!;
  up.target.params.source = b.target.params.staged_path;
  assert.match(
    messages(swapped),
    new RegExp(
      `operation upload-config-${a.target.name} \\(upload_file\\) writes the ` +
        `configuration file .* of ${a.target.name} from ".*${b.target.name}\\.conf", which is ` +
        `not a configuration this plan generates for ${a.target.name}`,
    ),
  );
  const secret = structuredClone(deploy);
  allOperations(secret).find((o) => o.id === up.id)!.target.params.secret = "secret:keyfile";
  assert.match(messages(secret), /from the secret "secret:keyfile"/);
  // A generate_config for a process the topology does not have, staged where another one is.
  const extra = structuredClone(deploy);
  configsOf(extra)[0].target.name = "mongod-evil-1";
  assert.match(messages(extra), /writes a configuration for "mongod-evil-1", which is not a/);

  // cluster tls enable: a requireTLS step renamed to "disabled" with a TLS-less content.
  const enable = tlsPlan(deploy, "enable");
  const last = configsOf(enable).findLast((o) => o.id.endsWith("-requireTLS"))!;
  const renamed = structuredClone(enable);
  const r = configsOf(renamed).find((o) => o.id === last.id)!;
  r.id = r.id.replace(/-requireTLS$/, "-disabled");
  assert.match(messages(renamed), /its ID is not one mup gives the configuration of/);
  // Its requireTLS steps dropped: the processes end in allowTLS while the metadata says TLS.
  const dropped = structuredClone(enable);
  for (const ph of dropped.phases) {
    ph.operations = ph.operations.filter((o) =>
      !/-requireTLS$/.test(o.id) || o.id.startsWith("set-")
    );
  }
  assert.match(
    messages(dropped),
    /ends in tlsMode allowTLS; a tls-enable plan ends every process on requireTLS/,
  );
  // The metadata update turned around.
  const turned = structuredClone(enable);
  allOperations(turned).find((o) => o.target.params.security_tls !== undefined)!.target.params
    .security_tls = "false";
  assert.match(messages(turned), /records `security.tls: true` in the metadata/);
});

Deno.test("a recorded cluster: content and topology edited together (auth off) are refused against the metadata", async () => {
  const deploy = await deployPlan(TOPOLOGIES["sharded, auth"]);
  const meta = metaOf(deploy);
  // The same cluster without access control, sealed as if it were this cluster's plan.
  const forged = await deployPlan(
    `global: { security: { auth: false } }\n${TOPOLOGIES["sharded, auth"]}`,
  );
  forged.base_state = deploy.base_state;
  // The plan agrees with itself …
  assert.deepEqual(planConfigIssues(forged).map((i) => i.message), []);
  // … not with the cluster as recorded.
  const found = recordedConfigIssues(forged, meta).map((i) => i.message).join("\n");
  assert.match(
    found,
    /^cluster c1 as recorded in its metadata: operation config-\S+ \(generate_config\)/m,
  );
  assert.match(found, /line 4 is " {2}bindIp: db1\.example\.net", expected " {2}bindIp: \\"127/);
  assert.match(found, /for mongos-10\.0\.0\.5-27017 on 10\.0\.0\.5 from the recorded topology/);
});

Deno.test("after cluster tls enable or disable, each configuration is the one restart expects from the metadata the switch records", async () => {
  for (
    const [yaml, action] of [
      [TOPOLOGIES["sharded, auth"], "enable"],
      [TOPOLOGIES["replica set, TLS"], "disable"],
    ] as const
  ) {
    const deploy = await deployPlan(yaml);
    const meta = metaOf(deploy);
    const after = { ...meta, topology: withTls(meta.topology, action === "enable") };
    const expected = recordedConfigs(after, `${CLUSTER_DIR}/deploy`);
    const last = new Map(configsOf(tlsPlan(deploy, action)).map((o) => [o.target.name, o]));
    assert.equal(last.size, expected.size);
    for (const [id, o] of last) assert.equal(o.target.params.content, expected.get(id), id);
    // And before the switch, the deploy's configurations are the ones expected then.
    const before = recordedConfigs(meta, `${CLUSTER_DIR}/deploy`);
    for (const o of configsOf(deploy)) {
      assert.equal(o.target.params.content, before.get(o.target.name), o.id);
    }
  }
});

Deno.test("uploads mup does not make are refused: another file of the store, the password, a secret elsewhere or to another host, a configuration staged elsewhere", async () => {
  const deploy = await deployPlan(TOPOLOGIES["replica set, TLS"]);
  const uploads = allOperations(deploy).filter((o) => o.type === "upload_file");
  const edited = (
    id: string,
    change: (params: Record<string, string>, o: PlannedOperation) => void,
  ) => {
    const copy = structuredClone(deploy);
    const o = allOperations(copy).find((x) => x.id === id)!;
    change(o.target.params, o);
    return planUploadIssues(copy, { storeRoot: STORE }).map((i) => i.message).join("\n");
  };
  assert.deepEqual(planUploadIssues(deploy, { storeRoot: STORE }), []);
  const keyfile = uploads.find((o) => o.target.params.secret === "secret:keyfile")!;
  const cert = uploads.find((o) => o.target.params.secret?.startsWith("secret:cert:"))!;
  const config = uploads.find((o) => o.target.params.source !== undefined)!;
  const k = `operation ${keyfile.id} \\(upload_file\\)`;
  assert.match(
    edited(keyfile.id, (p) => {
      delete p.secret;
      p.source = `${STORE}/clusters/other/secrets/admin.json`;
      p.dest = "/srv/mup/c1/x.json";
    }),
    new RegExp(
      `${k}: parameter "source" is ".*other/secrets/admin\\.json", uploaded to ` +
        `db1\\.example\\.net:/srv/mup/c1/x\\.json, which is no process's configuration file`,
    ),
  );
  assert.match(
    edited(keyfile.id, (p) => p.secret = "secret:admin"),
    new RegExp(`${k}: parameter "secret" is "secret:admin", which mup never uploads`),
  );
  assert.match(
    edited(keyfile.id, (p) => p.dest = "/srv/mup/c1/data/keyfile"),
    new RegExp(
      `${k}: parameter "dest" is "/srv/mup/c1/data/keyfile"; mup installs the keyfile ` +
        `at /srv/mup/c1/secrets/keyfile`,
    ),
  );
  assert.match(
    edited(keyfile.id, (_, o) => o.target.host = "evil.example.net"),
    /installs the keyfile on evil\.example\.net, which is no host of this plan's topology/,
  );
  assert.match(
    edited(keyfile.id, (p) => p.source = `${STORE}/clusters/other/secrets/admin.json`),
    /parameter "source" is ".*" beside the secret "secret:keyfile"/,
  );
  const other = cert.target.host === "db1.example.net" ? "db2.example.net" : "db1.example.net";
  assert.match(
    edited(cert.id, (_, o) => o.target.host = other),
    /installs the certificate of \S+ on db\d\.example\.net, which is not that process's host/,
  );
  assert.match(
    edited(
      config.id,
      (p) => p.source = `${STORE}/clusters/other/staging/${config.target.name}.conf`,
    ),
    new RegExp(
      `parameter "source" is ".*/clusters/other/staging/.*"; the configuration of ` +
        `${config.target.name} is uploaded from the cluster's staged ${CLUSTER_DIR}/staging/`,
    ),
  );
});
