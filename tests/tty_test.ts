/** The interactive paths, driven through a real terminal (tmux): confirmation and the safety-check menu. */
import assert from "node:assert/strict";
import {
  deployArgs,
  freePorts,
  killAll,
  planSharded,
  portTakenBefore,
  ROOT,
  smallShardedTopology,
  standaloneTopology,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { SAME_PRESS_MS } from "../lib/cli/apply_cli.ts";
import { mupRunArgs } from "../scripts/_mup_cmd.ts";
import { currentState } from "./apply_helpers.ts";
import { deadline, installFixture } from "./fixture.ts";

installFixture();
// After each test: this file's tmux server stopped, its socket file removed.
Deno.test.afterEach(async () => {
  await tmux("kill-server").catch(() => "");
  await Deno.remove(`${Deno.env.get("TMUX_TMPDIR") ?? "/tmp"}/tmux-${Deno.uid()}/${SOCKET}`)
    .catch(() => {});
});

/** A tmux server of this file's own: others' kill-server on the default one cannot end ours. */
const SOCKET = `mup-tty-${Deno.pid}`;

async function tmux(...args: string[]): Promise<string> {
  const r = await new Deno.Command("tmux", {
    args: ["-L", SOCKET, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  if (!r.success) throw new Error(`tmux ${args.join(" ")}: ${dec.decode(r.stderr)}`);
  return dec.decode(r.stdout);
}

async function screenUntil(session: string, pattern: RegExp, ms = 30_000): Promise<string> {
  const end = Date.now() + deadline(ms);
  let screen = "";
  while (Date.now() < end) {
    screen = await tmux("capture-pane", "-p", "-J", "-S", "-200", "-t", session);
    if (pattern.test(screen)) return screen;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${pattern} on screen:\n${screen}`);
}

function mupInTerminal(session: string, home: string, args: string[]): Promise<string> {
  const cmd = `cd ${ROOT} && MUP_HOME=${home} NO_COLOR=1 ${Deno.execPath()} ${
    mupRunArgs(args).join(" ")
  }; echo EXIT=$?; sleep 60`;
  return tmux("new-session", "-d", "-s", session, "-x", "160", "-y", "50", cmd);
}

Deno.test("in a terminal: confirm with yes, pause at a failed safety check, then resume and retry once it is fixed", async () => {
  const home = await tempHome();
  const ports = freePorts(4);
  const session = `mup-tty-${Deno.pid}`;
  // The resume gets a session of its own, started while the first still runs: killing the only
  // session stops the tmux server, and a session started during that shutdown may be lost.
  const resumed = `${session}-resume`;
  try {
    // The port is taken when the apply comes to its start (taken before, the apply would
    // refuse at once), and again when the resume does.
    const taken = portTakenBefore(home, `start-mongod-localhost-${ports[1]}`, ports[1], 2);
    const planId = (await planSharded(
      home,
      ports,
      "c1",
      (p) => smallShardedTopology(p, taken.hooks),
    )).plan_id;

    await mupInTerminal(session, home, ["plan", "apply", planId]);
    await screenUntil(session, /Do you want to continue\? \(yes\/no\):/);
    await tmux("send-keys", "-t", session, "yes", "Enter");
    let squatter = await taken.take();
    let screen = await screenUntil(session, /Options:/);
    assert.match(
      screen,
      new RegExp(`Safety check failed for operation start-mongod-localhost-${ports[1]}`),
    );
    assert.match(screen, /Fix the issue and retry operation/);
    assert.match(screen, /Skip this operation \(dangerous\)/);
    await tmux("send-keys", "-t", session, "Down", "Down", "Down", "Enter");
    screen = await screenUntil(session, /EXIT=\d+/);
    assert.match(screen, /Apply paused at phase 2/);
    assert.match(screen, /EXIT=1/);
    assert.equal((await currentState(home, "c1")).status, "paused");

    squatter.close();
    await mupInTerminal(resumed, home, ["plan", "resume", "c1"]);
    squatter = await taken.take();
    await screenUntil(resumed, /Options:/);
    squatter.close();
    await tmux("send-keys", "-t", resumed, "Enter"); // 1. retry
    screen = await screenUntil(resumed, /EXIT=\d+/, 60_000);
    assert.match(screen, /Deployment completed successfully!/);
    assert.match(screen, /EXIT=0/);
    const st = await currentState(home, "c1");
    assert.equal(st.status, "completed");
    assert.ok(st.operation_states[`start-mongod-localhost-${ports[1]}`].retries >= 1);
  } finally {
    for (const s of [session, resumed]) await tmux("kill-session", "-t", s).catch(() => "");
    await killAll(home);
  }
});

Deno.test("in a terminal: Ctrl-C at the confirmation cancels like 'no': nothing was applied, the plan is kept, the way to apply it later is printed, and mup exits 130 as an interrupted command does", async () => {
  const home = await tempHome();
  const ports = freePorts(4);
  const session = `mup-tty-cc-${Deno.pid}`;
  try {
    const planId = (await planSharded(home, ports, "c1", smallShardedTopology)).plan_id;
    await mupInTerminal(session, home, ["plan", "apply", planId]);
    await screenUntil(session, /Do you want to continue\? \(yes\/no\):/);
    await tmux("send-keys", "-t", session, "C-c");
    const screen = await screenUntil(session, /EXIT=\d+/);
    assert.match(
      screen,
      /Apply cancelled: interrupted at the question \(Ctrl-C\)\.\nNothing was applied\. The plan was kept: /,
    );
    assert.match(screen, new RegExp(`To apply it later: mup plan apply ${planId}`));
    assert.match(screen, /EXIT=130/);
  } finally {
    await tmux("kill-session", "-t", session).catch(() => "");
    await killAll(home);
  }
});

Deno.test("in a terminal: Ctrl-C twice stops at once with no live status line (spinner) left above or after mup's last lines", async () => {
  const home = await tempHome();
  const [port] = freePorts(1);
  const session = `mup-tty-stop-${Deno.pid}`;
  try {
    const topo = await writeTopology(home, "slow.yaml", standaloneTopology([port]));
    const args = deployArgs("slow", topo, await testMirror(), ["--auto-approve"]);
    // The shell outlives the Ctrl-Cs to print mup's exit code; a slow start keeps the status
    // line drawn while the keys arrive.
    await tmux(
      "new-session",
      "-d",
      "-s",
      session,
      "-x",
      "160",
      "-y",
      "50",
      `trap 'true' INT; cd ${ROOT} && MUP_HOME=${home} NO_COLOR=1 MUP_SIM_STARTUP_DELAY_MS=5000 ${Deno.execPath()} ${
        mupRunArgs(args).join(" ")
      }; echo EXIT=$?; sleep 60`,
    );
    await screenUntil(session, /1 running: Start mongod localhost:\d+ /, 60_000);
    await tmux("send-keys", "-t", session, "C-c");
    await screenUntil(session, /Interrupted: letting running operations finish/);
    await new Promise((r) => setTimeout(r, SAME_PRESS_MS + 100));
    await tmux("send-keys", "-t", session, "C-c");
    const screen = await screenUntil(session, /EXIT=\d+/);
    assert.match(screen, /EXIT=130/, screen);
    assert.doesNotMatch(screen, /\d+ running: /, `no status line left:\n${screen}`);
    assert.match(
      screen,
      /Interrupted: letting running operations finish.*\nStopping now\. The apply is saved as paused; continue it with: mup plan resume slow\nEXIT=130/,
      screen,
    );
  } finally {
    await tmux("kill-session", "-t", session).catch(() => "");
    await killAll(home);
  }
});
