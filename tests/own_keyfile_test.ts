/**
 * A keyfile of the user's own (`global.security.keyfile`): one that does not exist or is not a
 * MongoDB keyfile is refused at pre-flight, naming the topology file, line and field, before
 * anything is made; a valid one becomes the cluster's keyfile, and the set runs with it.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import {
  deployArgs,
  killAll,
  mup,
  output,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { clusterDir } from "./apply_helpers.ts";
import { livePids, stablePorts } from "./lifecycle_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

const exists = (p: string) => Deno.stat(p).then(() => true, () => false);

Deno.test("an own keyfile that is missing or not a keyfile is refused at pre-flight, naming file, line and field; a valid one is the cluster's keyfile", async () => {
  const home = await tempHome();
  const [port] = stablePorts(1);
  const topo = (keyfile: string) =>
    `global:\n  security:\n    keyfile: ${keyfile}\nmongod_servers:\n` +
    `  - { host: localhost, port: ${port}, replica_set: rs0 }\n`;
  try {
    const missing = path.join(home, "no-such-key");
    const short = path.join(home, "short-key");
    await Deno.writeTextFile(short, "abc\n");
    for (const [key, why] of [[missing, "does not exist"], [short, "is not a MongoDB keyfile"]]) {
      const file = await writeTopology(home, "own.yaml", topo(key));
      const r = await mup(deployArgs("own", file, await testMirror(), ["--auto-approve"]), {
        home,
      });
      assert.equal(r.code, 1, output(r));
      const text = r.stdout + r.stderr;
      assert.match(text, new RegExp(`own\\.yaml:3:\\d+: global\\.security\\.keyfile: .*${why}`));
      assert.doesNotMatch(text, /Applying|Deployment completed/, output(r));
      assert.ok(!(await exists(path.join(clusterDir(home, "own"), "deploy"))), "nothing made");
    }

    const key = path.join(home, "my-key");
    await Deno.writeTextFile(key, "c2VjcmV0a2V5Zm9ydGVzdGluZ29ubHkxMjM0NTY3ODkw\n", {
      mode: 0o400,
    });
    const file = await writeTopology(home, "own.yaml", topo(key));
    const r = await mup(deployArgs("own", file, await testMirror(), ["--auto-approve"]), { home });
    assert.equal(r.code, 0, output(r));
    assert.equal(
      await Deno.readTextFile(path.join(clusterDir(home, "own"), "secrets", "keyfile")),
      await Deno.readTextFile(key),
    );
    assert.equal((await livePids(home, "own")).length, 1);
  } finally {
    await killAll(home);
  }
});
