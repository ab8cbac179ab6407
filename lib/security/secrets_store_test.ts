/**
 * The secrets store's TLS scratch directories, lostSecretIssues and repairSigns, each run in a
 * `deno eval` of its own with MUP_HOME set there: `deno test --parallel` runs test files side
 * by side in one process, whose environment they share, so setting MUP_HOME here would move
 * another file's store (tests/download_cache_test.ts sets its own) while it works.
 */
import assert from "node:assert/strict";

const lib = (p: string) => new URL(`../${p}`, import.meta.url).href;
const CONFIG = new URL("../../deno.json", import.meta.url).pathname;

/**
 * Runs `body` (an async function body that returns something JSON can carry) with MUP_HOME
 * set to a new directory, in a process of its own; its value. `tls`, `secrets`, `lost` and
 * `SECRET`, `CA_KEY` are in scope. Throws with the child's stderr when it fails.
 */
async function inStore(body: string): Promise<unknown> {
  const home = await Deno.makeTempDir({ prefix: "mup-store-" });
  try {
    const code = [
      `import * as tls from "${lib("security/tls.ts")}";`,
      `import * as secrets from "${lib("security/secrets.ts")}";`,
      `import * as lost from "${lib("preflight/lost_secrets.ts")}";`,
      `import { SECRET } from "${lib("security/settings.ts")}";`,
      `const { CA_KEY } = secrets;`,
      `const out = await (async () => { ${body} })();`,
      `console.log(JSON.stringify(out ?? null));`,
    ].join("\n");
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--no-check", `--config=${CONFIG}`, code],
      env: { MUP_HOME: home },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(r.stderr);
    assert.equal(r.code, 0, err);
    return JSON.parse(new TextDecoder().decode(r.stdout).trim().split("\n").at(-1)!);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

/** A recorded TLS cluster on a remote host (no keyfile check on this machine), as JS text. */
const META = `({
  name: "c1",
  deploy_dir: "/srv/mup/c1",
  processes: [{ id: "mongod-db1.example-27017", host: "db1.example", port: 27017 }],
  topology: { global: { security: { auth: true, tls: true, admin_user: "admin" } } },
})`;

/** Every secret of META's cluster written (placeholder content), as JS text. */
const ALL_SECRETS =
  `for (const ref of [SECRET.keyfile, SECRET.admin, SECRET.ca, CA_KEY]) await secrets.writeSecret("c1", ref, "x\\n");`;

Deno.test("TLS work leaves no scratch directory, and removes the ones a killed mup left (private keys in them)", async () => {
  const left = await inStore(`
    const dir = secrets.secretsDir("c1");
    await Deno.mkdir(dir + "/.tls-99999999-abc", { recursive: true });
    await Deno.writeTextFile(dir + "/.tls-99999999-abc/p.key", "a key a killed mup left\\n");
    await tls.makeCa("c1");
    await tls.makeCertificate("c1", "secret:cert:mongod-localhost-27017", "localhost");
    return (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name)
      .filter((n) => n.startsWith(".tls-"));
  `);
  assert.deepEqual(left, []);
});

Deno.test("lostSecretIssues: the CA's key alone gone is named for a repair or scale-out (signing needs it), not for plans that only log in (tester32)", async () => {
  const [none, all, loginOnly] = await inStore(`
    const meta = ${META};
    ${ALL_SECRETS}
    const none = await lost.lostSecretIssues(meta);
    await Deno.remove(secrets.secretPath("c1", CA_KEY));
    return [none, await lost.lostSecretIssues(meta), await lost.lostSecretIssues(meta, ["admin", "ca"])];
  `) as { code: string; message: string }[][];
  assert.deepEqual(none, []);
  assert.equal(all.length, 1);
  assert.equal(all[0].code, "secret_lost");
  assert.match(
    all[0].message,
    /^the cluster's CA's key is missing from mup's store \(\S+ca\.key\): .* Put ca\.key back/,
  );
  // Without a backup: a TLS enable makes a new CA and signs every certificate again.
  assert.match(all[0].message, /`mup cluster tls c1 disable` then `mup cluster tls c1 enable`/);
  assert.deepEqual(loginOnly, []);
});

Deno.test("lostSecretIssues: the CA gone with its key is said once; the admin credentials in the plural; a remote keyfile's copy is named", async () => {
  const [said, keyfile] = await inStore(`
    const meta = ${META};
    ${ALL_SECRETS}
    for (const ref of [CA_KEY, SECRET.ca, SECRET.admin]) {
      await Deno.remove(secrets.secretPath("c1", ref));
    }
    const said = (await lost.lostSecretIssues(meta)).map((i) => i.message);
    await Deno.remove(secrets.secretPath("c1", SECRET.keyfile));
    return [said, (await lost.lostSecretIssues(meta, ["keyfile"]))[0].message];
  `) as [string[], string];
  assert.equal(said.length, 2, said.join("\n"));
  assert.match(
    said[0],
    /^the cluster's admin credentials are missing from mup's store \(\S+admin\.json\): the user admin exists/,
  );
  assert.match(
    said[1],
    /^the cluster's CA is missing from mup's store \(\S+ca\.pem\): .* Put ca\.pem and ca\.key back/,
  );
  assert.match(
    keyfile,
    /Put it back: copy db1\.example:\/srv\/mup\/c1\/\S+keyfile to \S+keyfile \(mode 600\)/,
  );
});

Deno.test("repairSigns: only a certificate missing from the store, or not of the store's CA, needs the CA's key", async () => {
  const seen = await inStore(`
    const meta = ${META};
    const ref = "secret:cert:mongod-db1.example-27017";
    const seen = [];
    await tls.makeCa("c1");
    await tls.makeCertificate("c1", ref, "db1.example");
    seen.push(await lost.repairSigns(meta));
    await tls.makeCa("c1"); // another CA: the certificate is not its
    seen.push(await lost.repairSigns(meta));
    await tls.makeCertificate("c1", ref, "db1.example");
    seen.push(await lost.repairSigns(meta));
    await Deno.remove(secrets.secretPath("c1", ref));
    seen.push(await lost.repairSigns(meta));
    return seen;
  `);
  const id = "mongod-db1.example-27017";
  assert.deepEqual(seen, [
    [],
    [{ id, found: "unsigned" }],
    [],
    [{ id, found: "missing" }],
  ]);
});

Deno.test("lostSecretIssues: ca.pem alone gone asks for ca.pem only; a ca.pem that is not its key's certificate is refused (tester34)", async () => {
  const [pemOnly, mismatch, pair] = await inStore(`
    const meta = ${META};
    ${ALL_SECRETS}
    await tls.makeCa("c1");
    const mine = await Deno.readTextFile(secrets.secretPath("c1", SECRET.ca));
    await Deno.remove(secrets.secretPath("c1", SECRET.ca));
    const pemOnly = (await lost.lostSecretIssues(meta, ["ca"])).map((i) => i.message);
    await tls.makeCa("c1"); // another pair; then the first one's certificate beside its key
    await secrets.writeSecret("c1", SECRET.ca, mine);
    const mismatch = (await lost.lostSecretIssues(meta, ["admin", "ca"])).map((i) => i.message);
    await tls.makeCa("c1");
    return [pemOnly, mismatch, await lost.lostSecretIssues(meta)];
  `) as [string[], string[], unknown[]];
  assert.equal(pemOnly.length, 1);
  assert.match(pemOnly[0], /Put ca\.pem back from a backup of \$MUP_HOME/);
  assert.doesNotMatch(pemOnly[0], /ca\.key back/);
  assert.equal(mismatch.length, 1, mismatch.join("\n"));
  assert.match(
    mismatch[0],
    /is not the certificate of the key beside it .*one of them was replaced/,
  );
  assert.deepEqual(pair, []);
});
