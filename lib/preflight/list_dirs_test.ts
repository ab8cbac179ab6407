import assert from "node:assert/strict";
import { LocalExecutor } from "../executor/local.ts";
import { listDirs } from "./list_dirs.ts";

Deno.test("listDirs: every directory's entries in one command; absent ones and files are undefined; names with spaces, dashes and quotes arrive whole", async () => {
  const root = await Deno.makeTempDir();
  try {
    const a = `${root}/a dir`;
    const b = `${root}/-b`;
    await Deno.mkdir(a);
    await Deno.mkdir(b);
    for (const n of ["x y", "-z", "it's", "$(touch boom)"]) {
      await Deno.writeTextFile(`${a}/${n}`, "");
    }
    await Deno.writeTextFile(`${root}/file`, "");
    const got = await listDirs(new LocalExecutor(), [a, b, `${root}/none`, `${root}/file`]);
    assert.deepEqual(got.get(a)?.sort(), ["$(touch boom)", "-z", "it's", "x y"]);
    assert.deepEqual(got.get(b), []);
    assert.equal(got.get(`${root}/none`), undefined);
    assert.equal(got.get(`${root}/file`), undefined);
    assert.equal(await Deno.stat(`${root}/boom`).catch(() => null), null, "nothing ran");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
