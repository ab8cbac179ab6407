/**
 * Files the user names (a plan, a plan on standard input, a topology) that cannot be what they
 * should be: a directory, bytes that are not UTF-8, a size past the limit. Each is a MupError
 * naming the file, never "This is a bug in mup"; the topology limit counts the file's bytes.
 */
import assert from "node:assert/strict";
import { mupRunArgs } from "../scripts/_mup_cmd.ts";
import { mup, output, ROOT, tempHome } from "./helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

function noBug(r: { stdout: string; stderr: string }): void {
  assert.doesNotMatch(r.stderr + r.stdout, /bug in mup|os error/i, output(r));
}

Deno.test("a directory given as a plan (show, validate, apply, graph, import from stdin) is named, never an internal error", async () => {
  const home = await tempHome();
  const dir = await Deno.makeTempDir({ dir: home, prefix: "plans-" });
  for (const sub of ["show", "validate", "apply", "graph"]) {
    const r = await mup(["plan", sub, dir], { home });
    assert.equal(r.code, 1, output(r));
    noBug(r);
    assert.ok(
      r.stderr.includes(`cannot read plan file ${dir}: it is a directory, not a file`),
      `${sub}: ${output(r)}`,
    );
    assert.match(r.stderr, /Hint: .*`mup plan list`/);
  }
  // `mup plan import < dir`: standard input is the directory.
  const child = await new Deno.Command("sh", {
    args: ["-c", 'exec "$0" "$@" < "$DIR"', Deno.execPath(), ...mupRunArgs(["plan", "import"])],
    env: { MUP_HOME: home, NO_COLOR: "1", DIR: dir },
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  const r = {
    code: child.code,
    stdout: dec.decode(child.stdout),
    stderr: dec.decode(child.stderr),
  };
  assert.equal(r.code, 1, output(r));
  noBug(r);
  assert.match(r.stderr, /cannot read standard input: it is a directory, not a file/, output(r));
});

Deno.test("the topology size limit counts the file's bytes; a file that is not UTF-8 is named as such", async () => {
  const home = await tempHome();
  // 3,000,000 random bytes: under the 4,194,304-byte limit, though they decode (with a
  // replacement character for each bad byte) to far more.
  const random = `${home}/random.yaml`;
  const bytes = new Uint8Array(3_000_000);
  for (let at = 0; at < bytes.length; at += 65536) {
    crypto.getRandomValues(bytes.subarray(at, Math.min(at + 65536, bytes.length)));
  }
  await Deno.writeFile(random, bytes);
  const r = await mup(["topology", "validate", random], { home });
  assert.equal(r.code, 1, output(r));
  noBug(r);
  assert.doesNotMatch(r.stderr, /more than the limit/, output(r));
  assert.ok(r.stderr.includes(`topology file ${random}: it is not UTF-8 text`), output(r));

  // Multi-byte text: 1,500,000 "é" are 3,000,000 bytes, under the limit, and read as text.
  const accents = `${home}/accents.yaml`;
  await Deno.writeTextFile(accents, `# ${"é".repeat(1_500_000)}\nmongod_servers: []\n`);
  const a = await mup(["topology", "validate", accents], { home });
  noBug(a);
  assert.doesNotMatch(a.stderr, /more than the limit|not UTF-8/, output(a));
  // Over the limit in bytes (and the same number of characters): still refused, by bytes.
  const limit = { MUP_TOPOLOGY_MAX_BYTES: "2000000" };
  const big = await mup(["topology", "validate", accents], { home, env: limit });
  assert.match(
    big.stderr,
    /the file is 3000022 bytes, more than the limit of 2000000/,
    output(big),
  );
  // A plan file that is not UTF-8 is named too.
  const plan = await mup(["plan", "validate", random], { home });
  assert.equal(plan.code, 1, output(plan));
  assert.ok(plan.stderr.includes(`plan file ${random}: it is not UTF-8 text`), output(plan));
});
