/**
 * The SSH local port forward mup uses to reach a remote process from its host's own loopback
 * interface (the localhost exception, as the first user is created): `ssh -O forward -L` over
 * the host's multiplexed master, against a real sshd on 127.0.0.2.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { SshExecutor } from "../lib/executor/ssh.ts";
import { startSshFixture } from "./ssh_helpers.ts";
import { installFixture, tempDir } from "./fixture.ts";

installFixture();

/** Reads what a TCP server at 127.0.0.1:port says first. */
async function greeting(port: number): Promise<string> {
  const c = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const buf = new Uint8Array(64);
    const n = await c.read(buf);
    return new TextDecoder().decode(buf.subarray(0, n ?? 0));
  } finally {
    c.close();
  }
}

Deno.test({
  name:
    "SshExecutor.forward: a local port reaches a port on the remote host's loopback through the master; one forward per target; gone once the executor closes",
  sanitizeResources: false,
  async fn() {
    const f = await startSshFixture(["127.0.0.2"]);
    const dir = await tempDir("mup-sshf-");
    // The "remote" server: on the loopback of the host sshd runs on (this machine).
    const server = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const target = (server.addr as Deno.NetAddr).port;
    const serving = (async () => {
      for await (const c of server) {
        await c.write(new TextEncoder().encode("hello from the host"));
        c.close();
      }
    })().catch(() => {});
    const s = f.servers[0];
    const ex = new SshExecutor(s.addr, {
      user: f.user,
      identityFile: f.key,
      connectTimeoutS: 20,
      options: [`UserKnownHostsFile=${f.knownHosts}`],
      strictHostKeys: false,
      configFile: "/dev/null",
      controlDir: path.join(dir, "ctl"),
      controlPersistS: 60,
    }, s.port);
    try {
      const local = await ex.forward("127.0.0.1", target);
      assert.notEqual(local, target);
      assert.equal(await greeting(local), "hello from the host");
      assert.equal(await ex.forward("127.0.0.1", target), local, "the forward is reused");
      await ex.close();
      await assert.rejects(greeting(local), "the forward ends with the master");
    } finally {
      await ex.close();
      server.close();
      await serving;
      await f.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
