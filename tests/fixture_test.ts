/**
 * The fixture (tests/fixture.ts) tears down what a test left running: the first test starts a
 * simulated mongod (forked, its own process group, known only by its pid file) and a child
 * process and returns without stopping them, as a failing test would; the second finds both
 * gone and the temp dir removed.
 */
import assert from "node:assert/strict";
import { freePorts } from "./helpers.ts";
import { pidOf, simBin, startMongod } from "./sim_helpers.ts";
import { installFixture, tempDir, trackChild } from "./fixture.ts";

installFixture();

const left: { dir?: string; server?: number; child?: number } = {};

function alive(pid: number): boolean {
  try {
    const s = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return s[s.lastIndexOf(")") + 2] !== "Z";
  } catch {
    return false;
  }
}

Deno.test("fixture: a test leaves a forked server, a child process and a temp dir behind", async () => {
  const dir = await tempDir("mup-fixture-");
  const [port] = freePorts(1);
  const r = await startMongod(await simBin("7.0.5"), dir, port);
  assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
  left.dir = dir;
  left.server = pidOf(dir, port);
  left.child = trackChild(new Deno.Command("sleep", { args: ["600"] }).spawn()).pid;
  assert.ok(alive(left.server) && alive(left.child));
});

Deno.test("fixture: after that test, its server and child are killed and its dir removed", () => {
  assert.ok(left.server && left.child && left.dir, "the first test ran");
  assert.equal(alive(left.server), false, `server ${left.server} still running`);
  assert.equal(alive(left.child), false, `child ${left.child} still running`);
  assert.throws(() => Deno.statSync(left.dir!), Deno.errors.NotFound, `${left.dir} still there`);
});
