/**
 * The refusal of a start over data that is gone, and a repair's review of what it writes again,
 * on a host reached over SSH (a real sshd on 127.0.0.2, tests/ssh_helpers.ts): the directories
 * are listed and the files looked for through the host's shell, not the control machine's.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { deployArgs, freePorts, killAll, mup, output, tempHome, testMirror } from "./helpers.ts";
import { clusterDir } from "./apply_helpers.ts";
import { ok } from "./lifecycle_helpers.ts";
import { entry, startSshFixture, topologyFile } from "./ssh_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

Deno.test({
  name:
    "SSH: a remote standalone whose data directory was emptied is refused; restored, with its keyfile deleted, the review says the keyfile is installed again",
  sanitizeResources: false,
  async fn() {
    const home = await tempHome();
    const f = await startSshFixture(["127.0.0.2"]);
    try {
      const [port] = freePorts(1);
      const dir = path.join(home, `data-${port}`);
      const topo = await topologyFile(home, {
        mongod_servers: [entry(f, "127.0.0.2", port, { data_dir: dir })],
      });
      const mirror = await testMirror();
      const args = (extra: string[]) => deployArgs("c1", topo, mirror, [...extra, ...f.flags()]);
      await ok(home, args(["--auto-approve"]));
      await ok(home, ["cluster", "stop", "c1", "--auto-approve", ...f.flags()]);
      await Deno.rename(dir, `${dir}.aside`);
      await Deno.mkdir(dir);
      const id = `mongod-127.0.0.2-${port}`;
      const refused = await mup(args(["--plan-only"]), { home });
      assert.equal(refused.code, 1, output(refused));
      assert.ok(
        refused.stdout.includes(
          `the data of standalone ${id} is gone: data directory 127.0.0.2:${dir} of ${id} is empty`,
        ),
        output(refused),
      );
      await Deno.remove(dir);
      await Deno.rename(`${dir}.aside`, dir);
      // Without global.deploy_dir a remote host uses the control machine's default path.
      const keyfile = path.join(clusterDir(home, "c1"), "deploy", "secrets", "keyfile");
      await Deno.remove(keyfile);
      const plan = await ok(home, args(["--plan-only"]));
      assert.ok(
        plan.stdout.includes(`Install the keyfile on 127.0.0.2 again: ${keyfile} is missing`),
        output(plan),
      );
    } finally {
      await killAll(home);
      await f.close();
    }
  },
});
