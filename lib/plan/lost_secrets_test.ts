import assert from "node:assert/strict";
import { lostSecretIssues, repairSigns } from "./lost_secrets.ts";
import { makeCa, makeCertificate } from "../security/tls.ts";
import { CA_KEY, secretPath, writeSecret } from "../security/secrets.ts";
import { SECRET } from "../security/settings.ts";
import type { ClusterMeta } from "../state/meta.ts";

/** A recorded TLS cluster on a remote host (no keyfile check on this machine). */
const meta = {
  name: "c1",
  deploy_dir: "/srv/mup/c1",
  processes: [{ host: "db1.example", port: 27017 }],
  topology: {
    global: {
      security: { auth: true, tls: true, admin_user: "admin", keyfile: undefined },
    },
  },
} as unknown as Pick<ClusterMeta, "name" | "topology" | "deploy_dir" | "processes">;

async function withHome(fn: () => Promise<void>) {
  const home = await Deno.makeTempDir({ prefix: "mup-lost-" });
  const before = Deno.env.get("MUP_HOME");
  Deno.env.set("MUP_HOME", home);
  try {
    for (const ref of [SECRET.keyfile, SECRET.admin, SECRET.ca, CA_KEY]) {
      await writeSecret("c1", ref, "x\n");
    }
    await fn();
  } finally {
    if (before === undefined) Deno.env.delete("MUP_HOME");
    else Deno.env.set("MUP_HOME", before);
    await Deno.remove(home, { recursive: true });
  }
}

Deno.test("lostSecretIssues: the CA's key alone gone is named for a repair or scale-out (signing needs it), not for plans that only log in (tester32)", async () => {
  await withHome(async () => {
    assert.deepEqual(await lostSecretIssues(meta), []);
    await Deno.remove(secretPath("c1", CA_KEY));
    const all = await lostSecretIssues(meta);
    assert.equal(all.length, 1);
    assert.equal(all[0].code, "secret_lost");
    assert.match(
      all[0].message,
      /^the cluster's CA's key is missing from mup's store \(\S+ca\.key\): .* Put ca\.key back/,
    );
    assert.deepEqual(await lostSecretIssues(meta, ["admin", "ca"]), []);
  });
});

Deno.test("lostSecretIssues: the CA gone with its key is said once; the admin credentials in the plural", async () => {
  await withHome(async () => {
    await Deno.remove(secretPath("c1", CA_KEY));
    await Deno.remove(secretPath("c1", SECRET.ca));
    await Deno.remove(secretPath("c1", SECRET.admin));
    const said = (await lostSecretIssues(meta)).map((i) => i.message);
    assert.equal(said.length, 2, said.join("\n"));
    assert.match(
      said[0],
      /^the cluster's admin credentials are missing from mup's store \(\S+admin\.json\): the user admin exists/,
    );
    assert.match(
      said[1],
      /^the cluster's CA is missing from mup's store \(\S+ca\.pem\): .* Put ca\.pem and ca\.key back/,
    );
    // A remote cluster's keyfile: where to copy it from, not a local `cp`.
    await Deno.remove(secretPath("c1", SECRET.keyfile));
    const keyfile = (await lostSecretIssues(meta, ["keyfile"]))[0].message;
    assert.match(
      keyfile,
      /Put it back: copy db1\.example:\/srv\/mup\/c1\/\S+keyfile to \S+keyfile \(mode 600\)/,
    );
  });
});

Deno.test("repairSigns: only a certificate missing from the store, or not of the store's CA, needs the CA's key", async () => {
  await withHome(async () => {
    const id = "mongod-db1.example-27017";
    const signed = {
      ...meta,
      processes: [{ id, host: "db1.example", port: 27017 }],
    } as typeof meta;
    await makeCa("c1");
    await makeCertificate("c1", `secret:cert:${id}`, "db1.example");
    assert.equal(await repairSigns(signed), false);
    await makeCa("c1"); // another CA: the certificate is not its
    assert.equal(await repairSigns(signed), true);
    await makeCertificate("c1", `secret:cert:${id}`, "db1.example");
    assert.equal(await repairSigns(signed), false);
    await Deno.remove(secretPath("c1", `secret:cert:${id}`));
    assert.equal(await repairSigns(signed), true);
  });
});
