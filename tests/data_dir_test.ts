/**
 * A first deploy never takes over a directory that is not its own: an entry's data_dir that holds
 * someone else's files is refused at pre-flight (destroy would remove them), a system directory
 * is refused by validation; an empty directory is fine.
 */
import assert from "node:assert/strict";
import {
  deployArgs,
  freePorts,
  mup,
  output,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

Deno.test("deploy refuses a data_dir holding other files (naming them) and a system directory; an empty data_dir plans", async () => {
  const home = await tempHome();
  const [port] = freePorts(1);
  try {
    const dir = `${home}/existing`;
    await Deno.mkdir(dir);
    await Deno.writeTextFile(`${dir}/notes.txt`, "precious\n");
    const topo = (d: string) =>
      writeTopology(
        home,
        `t-${port}.yaml`,
        `mongod_servers:\n  - host: localhost\n    port: ${port}\n    data_dir: ${d}\n`,
      );
    const plan = async (file: string) =>
      mup(deployArgs("dd", file, await testMirror(), ["--plan-only", "--json"]), { home });

    const taken = await mup(
      deployArgs("dd", await topo(dir), await testMirror(), ["--plan-only"]),
      { home },
    );
    assert.equal(taken.code, 1, output(taken));
    assert.match(
      taken.stdout + taken.stderr,
      /already holds files that are not MongoDB data \(notes\.txt\)/,
    );
    assert.equal(await Deno.readTextFile(`${dir}/notes.txt`), "precious\n", "nothing touched");

    const system = await mup(
      deployArgs("dd", await topo("/tmp"), await testMirror(), ["--plan-only"]),
      { home },
    );
    assert.equal(system.code, 1, output(system));
    assert.match(system.stderr, /data_dir \/tmp is a system directory/);

    await Deno.remove(`${dir}/notes.txt`);
    const empty = await plan(await topo(dir));
    assert.equal(empty.code, 0, output(empty));
    const text = await mup(
      deployArgs("dd", await topo(dir), await testMirror(), ["--plan-only"]),
      { home },
    );
    assert.match(text.stdout, /All ports available \(1 port on 1 host\)/, output(text));
  } finally {
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
});
