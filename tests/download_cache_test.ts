/**
 * The shared cache of unpacked releases: every cluster under a MUP_HOME installs from it, so a
 * second unpacking of the same archive (another mup that asked before the first had finished)
 * must never take away a tree that was marked complete.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { downloadBinary } from "../lib/ops/download_binary.ts";
import { sha256File } from "../lib/util/file_hash.ts";
import { opContext } from "./op_context.ts";
import { installFixture, tempDir } from "./fixture.ts";

installFixture();

/** The context of a download_binary operation of release 7.0.5 with these parameters. */
function downloadCtx(
  params: { archive: string; sha256: string; url: string; extract_dir: string },
) {
  return opContext(
    {
      id: "download-binary",
      type: "download_binary" as const,
      description: "Download MongoDB 7.0.5",
      target: { type: "host" as const, name: "localhost", host: "localhost", params },
      pre_conditions: [],
      changes: [],
      depends_on: [],
      parallel: true,
      estimated_ms: 1,
    },
    { plan_id: "plan-x", cluster_name: "c1", version: "7.0.5" },
  );
}

Deno.test("a second unpack of a cached release leaves the tree another mup marked complete in place (installs from it never find it gone); parallel unpackings all succeed", async () => {
  const home = await tempDir("mup-cache-");
  const before = Deno.env.get("MUP_HOME");
  Deno.env.set("MUP_HOME", home); // store parameters must lie inside MUP_HOME
  try {
    const pkg = path.join(home, "src", "mongodb-linux-x86_64-7.0.5", "bin");
    await Deno.mkdir(pkg, { recursive: true });
    await Deno.writeTextFile(path.join(pkg, "mongod"), "#!/bin/sh\n", { mode: 0o755 });
    await Deno.mkdir(path.join(home, "cache"));
    const archive = path.join(home, "cache", "mongo-7.0.5.tgz");
    const tar = await new Deno.Command("tar", {
      args: ["-czf", archive, "-C", path.join(home, "src"), "mongodb-linux-x86_64-7.0.5"],
    }).output();
    assert.equal(tar.code, 0);
    const dest = path.join(home, "cache", "mongo-7.0.5-linux-x86_64");
    const ctx = downloadCtx({
      archive,
      sha256: (await sha256File(archive))!,
      url: "file:///nowhere",
      extract_dir: dest,
    });
    await downloadBinary.run(ctx);
    assert.equal(await downloadBinary.isDone(ctx), true);
    // What the first mup's clusters are installing from right now.
    const inUse = path.join(dest, "in-use");
    await Deno.writeTextFile(inUse, "");
    await downloadBinary.run(ctx); // the second mup, which asked before the marker was written
    assert.ok(await Deno.stat(inUse).then(() => true, () => false), "the marked tree was replaced");
    assert.ok((await Deno.stat(path.join(dest, "bin", "mongod"))).isFile);
    assert.equal(await downloadBinary.isDone(ctx), true);
    const left = (await Array.fromAsync(Deno.readDir(path.join(home, "cache")))).map((e) => e.name);
    assert.deepEqual(left.sort(), [
      "mongo-7.0.5-linux-x86_64",
      "mongo-7.0.5.tgz",
      "mongo-7.0.5.tgz.lock",
    ]);

    // Several unpackings of the same archive at once, none finding a tree when it began (two
    // clusters deployed in parallel under one MUP_HOME): each ends with the release in place,
    // marked, and none takes away or breaks the tree another placed.
    // Meanwhile a reader (an install from the cache) must never find the release under its name
    // without its marker: a tree there is complete from the instant it appears.
    await Deno.remove(dest, { recursive: true });
    let running = true;
    const unmarked: string[] = [];
    const watch = (async () => {
      while (running) {
        const seen = await Deno.stat(path.join(dest, "bin")).then(() => true, () => false);
        if (seen && !(await Deno.stat(path.join(dest, ".mup-complete")).catch(() => null))) {
          unmarked.push(`${Date.now()}`);
        }
      }
    })();
    const runs = await Promise.allSettled(
      Array.from({ length: 4 }, () => downloadBinary.run(ctx)),
    ).finally(() => running = false);
    await watch;
    assert.deepEqual(runs.filter((r) => r.status === "rejected"), []);
    assert.deepEqual(unmarked, [], "the release was seen under its name without its marker");
    assert.equal(await downloadBinary.isDone(ctx), true);
    const afterRace = (await Array.fromAsync(Deno.readDir(path.join(home, "cache")))).map((e) =>
      e.name
    );
    assert.deepEqual(afterRace.sort(), [
      "mongo-7.0.5-linux-x86_64",
      "mongo-7.0.5.tgz",
      "mongo-7.0.5.tgz.lock",
    ]);

    // A binary changed in the cache by hand: the tree is no longer intact, and the next run
    // replaces it with the archive's.
    await Deno.writeTextFile(path.join(dest, "bin", "mongod"), "#!/bin/sh\necho changed\n");
    assert.equal(await downloadBinary.isDone(ctx), false);
    await downloadBinary.run(ctx);
    assert.equal(await downloadBinary.isDone(ctx), true);
    assert.equal(await Deno.readTextFile(path.join(dest, "bin", "mongod")), "#!/bin/sh\n");

    // A mup killed mid-download left a partial archive and an unpacking; another mup (alive)
    // is unpacking right now. The next download removes the dead one's, and only those.
    const ended = new Deno.Command("true").spawn();
    await ended.status;
    const dead = ended.pid;
    const alive = new Deno.Command("sleep", { args: ["60"] }).spawn();
    try {
      await Deno.writeTextFile(`${archive}.part-${dead}`, "half an archive");
      await Deno.mkdir(`${dest}.unpack-${dead}/mongodb-linux-x86_64-7.0.5/bin`, {
        recursive: true,
      });
      await Deno.mkdir(`${dest}.old-${dead}`);
      await Deno.mkdir(`${dest}.unpack-${alive.pid}`);
      await Deno.writeTextFile(`${archive}.other-${dead}`, "not a leftover of mup's");
      await downloadBinary.run(ctx);
      const now = (await Array.fromAsync(Deno.readDir(path.join(home, "cache")))).map((e) =>
        e.name
      );
      assert.deepEqual(now.sort(), [
        "mongo-7.0.5-linux-x86_64",
        `mongo-7.0.5-linux-x86_64.unpack-${alive.pid}`,
        "mongo-7.0.5.tgz",
        "mongo-7.0.5.tgz.lock",
        `mongo-7.0.5.tgz.other-${dead}`,
      ]);
    } finally {
      alive.kill();
      await alive.status;
    }
  } finally {
    if (before === undefined) Deno.env.delete("MUP_HOME");
    else Deno.env.set("MUP_HOME", before);
  }
});

Deno.test("deploys of one release at once download it once: the others wait for the cache's lock, then find it unpacked (in place)", async () => {
  const home = await tempDir("mup-cache-");
  const before = Deno.env.get("MUP_HOME");
  Deno.env.set("MUP_HOME", home);
  try {
    const pkg = path.join(home, "src", "mongodb-linux-x86_64-7.0.5", "bin");
    await Deno.mkdir(pkg, { recursive: true });
    await Deno.writeTextFile(path.join(pkg, "mongod"), "#!/bin/sh\n", { mode: 0o755 });
    // The mirror's archive, outside the cache: each run that finds no archive in the cache
    // downloads it from there.
    const source = path.join(home, "mirror.tgz");
    const tar = await new Deno.Command("tar", {
      args: ["-czf", source, "-C", path.join(home, "src"), "mongodb-linux-x86_64-7.0.5"],
    }).output();
    assert.equal(tar.code, 0);
    const cache = path.join(home, "cache");
    const ctx = downloadCtx({
      archive: path.join(cache, "mongo-7.0.5.tgz"),
      sha256: (await sha256File(source))!,
      url: `file://${source}`,
      extract_dir: path.join(cache, "mongo-7.0.5-linux-x86_64"),
    });
    const runs = await Promise.all(Array.from({ length: 4 }, () => downloadBinary.run(ctx)));
    const outputs = runs.map((r) => r.output ?? "");
    assert.equal(outputs.filter((o) => o.startsWith("downloaded ")).length, 1, outputs.join("\n"));
    assert.equal(
      outputs.filter((o) => / was unpacked meanwhile by another mup$/.test(o)).length,
      3,
      outputs.join("\n"),
    );
    // Those found it in place (the apply shows "already downloaded", not "Downloaded (1KB)").
    assert.deepEqual(
      runs.map((r) => !!r.inPlace).sort(),
      [false, true, true, true],
      outputs.join("\n"),
    );
    assert.equal(await downloadBinary.isDone(ctx), true);
  } finally {
    if (before === undefined) Deno.env.delete("MUP_HOME");
    else Deno.env.set("MUP_HOME", before);
  }
});
