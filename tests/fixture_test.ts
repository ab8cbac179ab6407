/**
 * The fixture (tests/fixture.ts) tears down what a test left running: the first test starts a
 * simulated mongod (forked, its own process group, known only by its pid file) and a child
 * process and returns without stopping them, as a failing test would; the second finds both
 * gone and the temp dir removed, while a process that reused the pid of a stale pid file lives.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { freePorts } from "./helpers.ts";
import { pidOf, simBin, startMongod } from "./sim_helpers.ts";
import { alive } from "../scripts/_pids.ts";
import { installFixture, tempDir, trackChild } from "./fixture.ts";

installFixture();

const left: { dir?: string; server?: number; child?: number; bystander?: Deno.ChildProcess } = {};

Deno.test("fixture: a test leaves a forked server, a child process and a temp dir behind", async () => {
  const dir = await tempDir("mup-fixture-");
  const [port] = freePorts(1);
  const r = await startMongod(await simBin("7.0.5"), dir, port);
  assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
  left.dir = dir;
  left.server = pidOf(dir, port);
  left.child = trackChild(new Deno.Command("sleep", { args: ["600"] }).spawn()).pid;
  assert.ok(alive(left.server) && alive(left.child));
  // A stale pid file whose pid a busy machine gave again to another test's simulator (a process
  // naming this checkout's sim/main.ts, started after the file was written): not ours to kill.
  const simMain = path.resolve(import.meta.dirname!, "..", "sim", "main.ts");
  left.bystander = new Deno.Command("sh", { args: ["-c", "sleep 600", simMain] }).spawn();
  const stale = path.join(dir, "gone", "mongod.pid");
  Deno.mkdirSync(path.dirname(stale));
  Deno.writeTextFileSync(stale, `${left.bystander.pid}\n`);
  const before = new Date(Date.now() - 60_000);
  Deno.utimeSync(stale, before, before);
});

Deno.test("fixture: after that test, its server and child are killed and its dir removed, not a process that reused a stale pid", async () => {
  assert.ok(left.server && left.child && left.dir, "the first test ran");
  assert.equal(alive(left.server), false, `server ${left.server} still running`);
  assert.equal(alive(left.child), false, `child ${left.child} still running`);
  assert.throws(() => Deno.statSync(left.dir!), Deno.errors.NotFound, `${left.dir} still there`);
  const bystander = left.bystander!;
  try {
    assert.ok(alive(bystander.pid), "a process that reused a stale pid file's pid was killed");
  } finally {
    // Its `sleep` first: sh runs it as a child, which killing sh alone would leave running.
    const kids = Deno.readTextFileSync(`/proc/${bystander.pid}/task/${bystander.pid}/children`)
      .trim().split(/\s+/).filter(Boolean).map(Number);
    for (const k of kids) {
      try {
        Deno.kill(k, "SIGKILL");
      } catch {
        // Gone.
      }
    }
    bystander.kill("SIGKILL");
    await bystander.status;
  }
});
