/** Remote hosts of another architecture get that architecture's release (pure planner; pre-flight and the upgrade probe with fake hosts). */
import assert from "node:assert/strict";
import * as path from "node:path";
import { planDeploy } from "../lib/plan/planner.ts";
import { allOperations, type Release } from "../lib/plan/schema.ts";
import { preflight } from "../lib/preflight/preflight.ts";
import { MockExecutor } from "../lib/executor/mock.ts";
import type { Executor, ExecutorFactory } from "../lib/executor/executor.ts";
import { parseTopology } from "../lib/topology/load.ts";
import { renderPlan } from "../lib/render/plan_text.ts";
import { sha256File } from "../lib/util/file_hash.ts";
import { installFixture, tempDir, tempFile } from "./fixture.ts";
import { buildMirror } from "../sim/mirror.ts";
import {
  otherArchitectures,
  resolveUpgradeRelease,
  type UpgradeRequest,
} from "../lib/plan/upgrade_build.ts";
import { metaFor } from "./lifecycle_inputs.ts";

installFixture();

const release = (arch: string): Release => ({
  version: "7.0.5",
  variant: "mongo",
  platform: `linux-${arch}`,
  url: `https://fastdl.mongodb.org/linux/mongodb-linux-${arch}-ubuntu2204-7.0.5.tgz`,
  sha256: (arch === "x86_64" ? "ab" : "cd").repeat(32),
  size_bytes: 1,
  archive_name: `mongodb-linux-${arch}-ubuntu2204-7.0.5.tgz`,
});

const TOPO = `mongod_servers:
  - { host: ctl.example.net, port: 27017, replica_set: rs }
  - { host: arm1.example.net, port: 27017, replica_set: rs }
  - { host: x86.example.net, port: 27017, replica_set: rs }
`;

Deno.test("a remote aarch64 host gets the aarch64 release: its own download, install and checksum", async () => {
  const { topology } = await parseTopology(TOPO, "t.yaml");
  const plan = planDeploy({
    planId: "plan-arch",
    createdAt: "2026-01-01T00:00:00.000Z",
    clusterName: "c",
    topology,
    topologyFile: "/t.yaml",
    release: release("x86_64"),
    hostReleases: { "arm1.example.net": release("aarch64") },
    deployDir: "/d",
    cacheDir: "/cache",
    clusterDir: "/c",
    validation: { valid: true, errors: [], warnings: [], checks: [] },
    hooks: [],
    baseState: { lineage: "", serial: 0 },
    cached: true,
  });
  const ops = new Map(allOperations(plan).map((o) => [o.id, o]));
  const arm = ops.get("download-mongo-7.0.5-linux-aarch64")!;
  assert.equal(arm.target.params.url, release("aarch64").url);
  assert.equal(arm.target.params.extract_dir, "/cache/mongo-7.0.5-linux-aarch64");
  assert.equal(arm.target.params.archive, "/cache/mongodb-linux-aarch64-ubuntu2204-7.0.5.tgz");
  assert.ok(ops.has("download-mongo-7.0.5-linux-x86_64"));
  const install = ops.get("install-binaries-arm1.example.net")!;
  assert.deepEqual(install.depends_on, ["download-mongo-7.0.5-linux-aarch64"]);
  assert.equal(install.target.params.source_dir, "/cache/mongo-7.0.5-linux-aarch64/bin");
  assert.equal(install.pre_conditions[0].params.sha256, release("aarch64").sha256);
  const x86 = ops.get("install-binaries-x86.example.net")!;
  assert.deepEqual(x86.depends_on, ["download-mongo-7.0.5-linux-x86_64"]);
  const start = ops.get("start-mongod-arm1.example.net-27017")!;
  const binary = start.pre_conditions.find((c) => c.check_type === "binary_present")!;
  assert.equal(binary.params.source, "/cache/mongo-7.0.5-linux-aarch64/bin/mongod");
});

/** A remote host as pre-flight sees it: reachable, with the given `uname -sm`. */
class FakeRemote extends MockExecutor {
  constructor(host: string, private readonly os: string, private readonly arch: string) {
    super(host);
  }
  probe() {
    return Promise.resolve({ rttMs: 1, connectMs: 1 });
  }
  platform() {
    return Promise.resolve({ os: this.os, arch: this.arch });
  }
}

Deno.test("pre-flight resolves the release of each remote architecture once and refuses unknown ones", async () => {
  const { topology } = await parseTopology(TOPO, "t.yaml");
  const hosts = new Map<string, Executor>([
    ["ctl.example.net", new MockExecutor("ctl.example.net")],
    ["arm1.example.net", new FakeRemote("arm1.example.net", "Linux", "arm64")],
    ["x86.example.net", new FakeRemote("x86.example.net", "Linux", "x86_64")],
  ]);
  const executors: ExecutorFactory = { forHost: (h) => hosts.get(h)! };
  const asked: string[] = [];
  // The aarch64 archive "in the mirror": a local file, so no network is needed.
  const mirrored = await tempFile({ suffix: ".tgz" });
  const input = {
    topology,
    release: release("x86_64"),
    resources: {
      hosts: 3,
      total_processes: 3,
      processes_by_role: { mongod: 3 },
      ports_used: [27017],
      disk_space_gb: 0,
      download_size_mb: 1,
      processes_per_host: { "ctl.example.net": 1, "arm1.example.net": 1, "x86.example.net": 1 },
    },
    deployDir: "/d",
    archivePath: "/nonexistent",
    executors,
    resolveFor: (arch: string) => {
      asked.push(arch);
      return Promise.resolve({ ...release(arch), url: mirrored });
    },
  };
  const r = await preflight(input);
  assert.deepEqual(asked, ["aarch64"]);
  assert.deepEqual(Object.keys(r.hostReleases), ["arm1.example.net"]);
  const check = r.validation.checks.find((c) => c.name === "os_arch")!;
  assert.equal(check.status, "passed");
  assert.match(check.message, /1 need the linux-aarch64 release/);
  const bins = r.validation.checks.find((c) => c.name === "binaries_other_arch")!;
  assert.equal(bins.status, "passed", bins.message);
  assert.match(bins.message, /linux-aarch64 from /);
  await Deno.remove(mirrored);
  const gone = await preflight(input);
  const missing = gone.validation.checks.find((c) => c.name === "binaries_other_arch")!;
  assert.equal(missing.status, "failed");
  assert.match(missing.message, /linux-aarch64: archive not found at /);

  hosts.set("arm1.example.net", new FakeRemote("arm1.example.net", "Linux", "riscv64"));
  const bad = await preflight({
    ...input,
    resolveFor: () => Promise.reject(new Error("MongoDB publishes no Linux riscv64 builds")),
  });
  const failed = bad.validation.checks.find((c) => c.name === "os_arch")!;
  assert.equal(failed.status, "failed");
  assert.match(
    failed.message,
    /no MongoDB 7\.0\.5 release for arm1\.example\.net is Linux riscv64/,
  );
  assert.equal(bad.validation.valid, false);
});

Deno.test("a remote architecture's archive found in the cache by pre-flight is used, not downloaded, and the review says so", async () => {
  const { topology } = await parseTopology(TOPO, "t.yaml");
  const hosts = new Map<string, Executor>([
    ["ctl.example.net", new MockExecutor("ctl.example.net")],
    ["arm1.example.net", new FakeRemote("arm1.example.net", "Linux", "arm64")],
    ["x86.example.net", new FakeRemote("x86.example.net", "Linux", "x86_64")],
  ]);
  const cacheDir = await tempDir();
  const arm = release("aarch64");
  // The aarch64 archive in the cache, as an earlier download left it.
  await Deno.writeTextFile(path.join(cacheDir, arm.archive_name), "aarch64 release");
  const sha256 = (await sha256File(path.join(cacheDir, arm.archive_name)))!;
  const main = { ...release("x86_64"), url: path.join(cacheDir, "nowhere.tgz") };
  const r = await preflight({
    topology,
    release: main,
    resources: {
      hosts: 3,
      total_processes: 3,
      processes_by_role: { mongod: 3 },
      ports_used: [27017],
      disk_space_gb: 0,
      download_size_mb: 1,
      processes_per_host: { "ctl.example.net": 1, "arm1.example.net": 1, "x86.example.net": 1 },
    },
    deployDir: "/d",
    archivePath: path.join(cacheDir, main.archive_name),
    executors: { forHost: (h) => hosts.get(h)! },
    resolveFor: (a: string) => Promise.resolve({ ...release(a), sha256 }),
  });
  assert.deepEqual(r.cached, false);
  assert.deepEqual(r.cachedPlatforms, ["linux-aarch64"]);
  const plan = planDeploy({
    planId: "plan-arch",
    createdAt: "2026-01-01T00:00:00.000Z",
    clusterName: "c",
    topology,
    topologyFile: "/t.yaml",
    release: main,
    hostReleases: r.hostReleases,
    cachedPlatforms: r.cachedPlatforms,
    deployDir: "/d",
    cacheDir,
    clusterDir: "/c",
    validation: { valid: true, errors: [], warnings: [], checks: [] },
    hooks: [],
    baseState: { lineage: "", serial: 0 },
    cached: false,
  });
  const ops = new Map(allOperations(plan).map((o) => [o.id, o]));
  assert.deepEqual(
    ops.get("download-mongo-7.0.5-linux-aarch64")!.changes.map((c) => c.action),
    ["none"],
  );
  const shown = renderPlan({ ...plan, content_hash: "" });
  assert.match(shown, /Uses the cached \S+mongodb-linux-aarch64-ubuntu2204-7\.0\.5\.tgz \(sha256/);
  assert.match(shown, /Downloads \S+nowhere\.tgz \(sha256/);
  assert.doesNotMatch(shown, /Downloads \S+aarch64/);
});

Deno.test("upgrade: a remote host of another architecture gets that architecture's build of the new release (its cached archive known); a host that is not Linux is refused", async () => {
  const mirror = await tempDir();
  await buildMirror(mirror, { versions: ["8.0.4"], arches: ["x86_64", "aarch64"] });
  const release = await resolveUpgradeRelease("8.0", "mongo", mirror);
  const here = release.platform.split("-")[1];
  const other = here === "x86_64" ? "aarch64" : "x86_64";
  const { meta } = await metaFor(TOPO);
  const cacheDir = await tempDir();
  const req = (hosts: Map<string, Executor>): UpgradeRequest => ({
    meta,
    version: "8.0",
    variant: "mongo",
    mirror,
    setFcv: false,
    cacheDir,
    store: undefined as never,
    executors: { forHost: (h) => hosts.get(h)! },
  });
  const hosts = new Map<string, Executor>([
    ["ctl.example.net", new MockExecutor("ctl.example.net")],
    ["arm1.example.net", new FakeRemote("arm1.example.net", "Linux", other)],
    ["x86.example.net", new FakeRemote("x86.example.net", "Linux", here)],
  ]);
  const found = await otherArchitectures(meta, release, req(hosts));
  assert.deepEqual(Object.keys(found.hostReleases ?? {}), ["arm1.example.net"]);
  const arm = found.hostReleases!["arm1.example.net"];
  assert.equal(arm.version, "8.0.4");
  assert.equal(arm.platform, `linux-${other}`);
  assert.match(arm.url, new RegExp(`mongodb-linux-${other}-.*-8\\.0\\.4\\.tgz$`));
  assert.notEqual(arm.sha256, release.sha256);
  assert.deepEqual(found.cachedPlatforms, [], "not downloaded yet");

  // Its archive in the cache (the mirror's own file, the same sha256): known as cached.
  const mirrored = path.join(mirror, "linux", arm.archive_name);
  await Deno.copyFile(mirrored, path.join(cacheDir, arm.archive_name));
  const again = await otherArchitectures(meta, release, req(hosts));
  assert.deepEqual(again.cachedPlatforms, [`linux-${other}`]);

  hosts.set("arm1.example.net", new FakeRemote("arm1.example.net", "Darwin", "arm64"));
  await assert.rejects(
    () => otherArchitectures(meta, release, req(hosts)),
    /arm1\.example\.net runs Darwin, not Linux: mup installs Linux builds/,
  );
  hosts.set("arm1.example.net", new FakeRemote("arm1.example.net", "Linux", "ppc64le"));
  await assert.rejects(
    () => otherArchitectures(meta, release, req(hosts)),
    /MongoDB publishes no Linux ppc64le builds \(only x86_64 and aarch64\)/,
  );
});
