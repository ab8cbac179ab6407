import assert from "node:assert/strict";
import * as path from "node:path";
import { makeCa, makeCertificate } from "./tls.ts";
import { secretsDir } from "./secrets.ts";

Deno.test("TLS work leaves no scratch directory, and removes the ones a killed mup left (private keys in them)", async () => {
  const home = await Deno.makeTempDir({ prefix: "mup-tls-" });
  const before = Deno.env.get("MUP_HOME");
  Deno.env.set("MUP_HOME", home);
  try {
    const dir = secretsDir("c1");
    const stale = path.join(dir, ".tls-99999999-abc");
    await Deno.mkdir(stale, { recursive: true });
    await Deno.writeTextFile(path.join(stale, "p.key"), "a key a killed mup left\n");
    await makeCa("c1");
    await makeCertificate("c1", "secret:cert:mongod-localhost-27017", "localhost");
    const left = (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name)
      .filter((n) => n.startsWith(".tls-"));
    assert.deepEqual(left, []);
  } finally {
    if (before === undefined) Deno.env.delete("MUP_HOME");
    else Deno.env.set("MUP_HOME", before);
    await Deno.remove(home, { recursive: true });
  }
});
