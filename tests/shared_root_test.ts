/**
 * Two clusters of one store never share a deploy root's binaries and secrets (`bin/`,
 * `secrets/`): planning and `plan apply` refuse it, naming the other cluster, the host and the
 * directory; and a destroy keeps what another recorded cluster uses, whatever its plan says.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { freePorts, killAll, mup, output, tempHome } from "./helpers.ts";
import { clusterDir } from "./apply_helpers.ts";
import { deploy } from "./faults_helpers.ts";
import { livePids, ok } from "./lifecycle_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

const exists = (p: string) => Deno.stat(p).then(() => true, () => false);
const standalone = (root: string, port: number) =>
  `global:\n  deploy_dir: ${root}\nmongod_servers:\n  - { host: localhost, port: ${port} }\n`;

Deno.test("a cluster is refused another cluster's deploy_dir at planning and at plan apply, naming it", async () => {
  const home = await tempHome();
  try {
    const root = path.join(home, "rs3-root");
    const [p1, p2] = freePorts(2);
    // Planned while the root is nobody's: applied after rs3 took it, the apply refuses it.
    const early = await deploy(home, "b2", standalone(root, p2), ["--plan-only"]);
    assert.equal(early.code, 0, output(early));
    const rs3 = await deploy(home, "rs3", standalone(root, p1));
    assert.equal(rs3.code, 0, output(rs3));
    const keyfile = path.join(root, "secrets", "keyfile");
    const key = await Deno.readTextFile(keyfile);

    const planned = await deploy(home, "b2", standalone(root, p2), ["--plan-only"]);
    assert.equal(planned.code, 1, output(planned));
    assert.match(
      planned.stdout + planned.stderr,
      new RegExp(
        `deploy root ${root} on localhost: bin/ and secrets/ .*cluster rs3 \\(deploy root ${root} on localhost\\)`,
      ),
    );
    assert.match(planned.stdout + planned.stderr, /its own global\.deploy_dir/);

    const applied = await mup(["plan", "apply", "b2", "--auto-approve"], { home });
    assert.equal(applied.code, 1, output(applied));
    assert.match(applied.stderr, new RegExp(`deploy root ${root} on localhost: .*cluster rs3`));
    assert.deepEqual(await livePids(home, "b2"), []);
    assert.equal(await Deno.readTextFile(keyfile), key, "rs3's keyfile is untouched");
  } finally {
    await killAll(home);
  }
});

Deno.test("a destroy keeps the binaries and secrets another cluster of the store uses in its deploy root", async () => {
  const home = await tempHome();
  const other = await tempHome();
  try {
    const root = path.join(home, "shared-root");
    const [p1, p2] = freePorts(2);
    // Two clusters on one deploy root, as an older mup let them be made: b2 here, rs3 in
    // another store whose record is then copied here (this store's claims refuse it now).
    const b2 = await deploy(home, "b2", standalone(root, p2));
    assert.equal(b2.code, 0, output(b2));
    const rs3 = await deploy(other, "rs3", standalone(root, p1));
    assert.equal(rs3.code, 0, output(rs3));
    await Deno.mkdir(clusterDir(home, "rs3"), { recursive: true });
    await Deno.copyFile(
      path.join(clusterDir(other, "rs3"), "meta.yaml"),
      path.join(clusterDir(home, "rs3"), "meta.yaml"),
    );
    const bins = (await Array.fromAsync(Deno.readDir(path.join(root, "bin")))).map((e) => e.name);
    assert.equal(bins.length, 1, bins.join(", "));
    const keyfile = path.join(root, "secrets", "keyfile");
    const key = await Deno.readTextFile(keyfile);

    const destroyed = await ok(home, ["cluster", "destroy", "b2", "--auto-approve"]);
    const said = destroyed.stdout + destroyed.stderr;
    assert.match(said, new RegExp(`kept localhost:${root}/bin/${bins[0]}: cluster rs3 uses`));
    assert.match(said, new RegExp(`kept localhost:${root}/secrets: cluster rs3 uses`));
    assert.ok(await exists(path.join(root, "bin", bins[0], "bin", "mongod")));
    assert.equal(await Deno.readTextFile(keyfile), key);
    // b2's own directories went; rs3 runs on.
    assert.ok(!(await exists(path.join(root, "data", `mongod-${p2}`))));
    assert.ok(await exists(path.join(root, "data", `mongod-${p1}`)));
    const shown = await mup(["cluster", "display", "rs3", "--json"], { home: other });
    assert.equal(shown.code, 0, output(shown));
  } finally {
    await killAll(home);
    await killAll(other);
  }
});
