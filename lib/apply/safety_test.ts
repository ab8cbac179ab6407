import assert from "node:assert/strict";
import { MockExecutor } from "../executor/mock.ts";
import { MongoAccess } from "../mongo/client.ts";
import { check } from "../plan/op_builders.ts";
import { sha256Hex } from "../util/hash.ts";
import { runCheck } from "./safety.ts";

Deno.test("binary_present with the deploy's sha256: passes on that binary, fails on any other, naming both checksums and the repair", async () => {
  const ex = new MockExecutor("db1");
  const installed = sha256Hex(new TextEncoder().encode("the release's mongod"));
  const c = check("start-m:binary", "binary_present", "db1:/opt/bin/mongod", "binary", {
    host: "db1",
    path: "/opt/bin/mongod",
    sha256: installed,
    repair: "mup cluster deploy rs rs.yaml --version 7.0.14",
  });
  const access = new MongoAccess();
  await ex.writeFile("/opt/bin/mongod", "the release's mongod");
  assert.deepEqual(await runCheck(c, ex, access), {
    ok: true,
    status: "binary is the one installed",
  });
  await ex.writeFile("/opt/bin/mongod", "something else");
  const other = sha256Hex(new TextEncoder().encode("something else"));
  const r = await runCheck(c, ex, access);
  assert.equal(r.ok, false);
  assert.equal(
    r.status,
    `binary /opt/bin/mongod is not the one mup installed (sha256 ${other.slice(0, 12)}…, ` +
      `installed ${installed.slice(0, 12)}…): install it again with ` +
      "`mup cluster deploy rs rs.yaml --version 7.0.14` (a repair)",
  );
  ex.files.delete("/opt/bin/mongod");
  assert.equal((await runCheck(c, ex, access)).status, "binary /opt/bin/mongod is missing");
});
