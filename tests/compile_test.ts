/** `deno task compile` proves that what it built is mup, and fails with the reason otherwise. */
import assert from "node:assert/strict";
import * as path from "node:path";
import { mup, ROOT, tempHome } from "./helpers.ts";
import { mupRunArgs } from "../scripts/_mup_cmd.ts";
import { notMup } from "../scripts/compile.ts";
import { EXAMPLE_PLAN } from "../scripts/example_plan.ts";
import { installFixture, tempDir } from "./fixture.ts";

installFixture();

Deno.test("compile: with DENORT_BIN pointing at a plain deno, the build is refused as not mup (exit 1, with the reason)", async () => {
  const dir = await tempDir("mup-compile-");
  try {
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", path.join(ROOT, "scripts", "compile.ts"), path.join(dir, "mup")],
      cwd: ROOT,
      env: { DENORT_BIN: Deno.execPath(), NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
    assert.equal(r.code, 1, out);
    assert.match(out, /FAILED: .* was built but is not mup: .*--version` printed "deno /);
    assert.doesNotMatch(out, /^built /m);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("compile: a build that could not be made (no runtime here: SKIPPED) leaves no directory it made for the binary (tester80)", async () => {
  const dir = await tempDir("mup-compile-");
  try {
    const out = path.join(dir, "dist", "mup");
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", path.join(ROOT, "scripts", "compile.ts"), out],
      cwd: ROOT,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const said = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
    const made = await Deno.stat(path.dirname(out)).then(() => true, () => false);
    if (r.code === 0) assert.ok(made, said); // a network that reaches dl.deno.land: it was built
    else assert.ok(!made, `dist/ was left after exit ${r.code}:\n${said}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("compile: the check accepts mup itself: --version prints mup's version and the shipped example plan validates", async () => {
  const home = await tempHome();
  try {
    // mup from source behind a one-line launcher, as a compiled binary would be called.
    const bin = path.join(home, "mup");
    const argv = [Deno.execPath(), ...mupRunArgs([])].map((a) => `'${a}'`).join(" ");
    await Deno.writeTextFile(bin, `#!/bin/sh\nMUP_HOME='${home}' exec ${argv} "$@"\n`, {
      mode: 0o755,
    });
    assert.equal(await notMup(bin), undefined);
    const v = await mup(["plan", "validate", EXAMPLE_PLAN], { home });
    assert.equal(
      v.code,
      0,
      `${v.stdout}${v.stderr}\n(if the plan format changed: deno run -A scripts/example_plan.ts)`,
    );
    assert.match(v.stdout, /plan is valid/);
    // A binary that is something else is named with what it printed.
    assert.match((await notMup("/bin/true"))!, /printed "true .*" \(exit 0\), not mup.s version/);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
