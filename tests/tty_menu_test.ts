/** In a real terminal (tmux): the live status line stays out of the safety-check menu. */
import assert from "node:assert/strict";
import {
  freePorts,
  killAll,
  planSharded,
  portTakenBefore,
  ROOT,
  shardedTopology,
  tempHome,
} from "./helpers.ts";
import { mupRunArgs } from "../scripts/_mup_cmd.ts";
import { StateStore } from "../lib/state/store.ts";
import { clusterDir } from "./apply_helpers.ts";
import { deadline, installFixture } from "./fixture.ts";

installFixture();
// After each test: this file's tmux server stopped, its socket file removed.
Deno.test.afterEach(async () => {
  await tmux("kill-server").catch(() => "");
  await Deno.remove(`${Deno.env.get("TMUX_TMPDIR") ?? "/tmp"}/tmux-${Deno.uid()}/${SOCKET}`)
    .catch(() => {});
});

/** A tmux server of this file's own: others' kill-server on the default one cannot end ours. */
const SOCKET = `mup-ttymenu-${Deno.pid}`;

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

function screen(session: string): Promise<string> {
  return tmux("capture-pane", "-p", "-J", "-S", "-200", "-t", session);
}

async function screenUntil(session: string, pattern: RegExp, ms = 60_000): Promise<string> {
  const end = Date.now() + deadline(ms);
  let s = "";
  while (Date.now() < end) {
    s = await screen(session);
    if (pattern.test(s)) return s;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${pattern} on screen:\n${s}`);
}

/** Operations of the current apply in state "running". */
async function running(home: string): Promise<string[]> {
  const store = new StateStore(clusterDir(home, "c1"));
  const id = await store.currentId();
  if (!id) return [];
  const st = await store.load(id);
  return Object.values(st.operation_states).filter((o) => o.status === "running").map((o) => o.id);
}

Deno.test("in a terminal: while the safety-check menu and its 'Skip anyway?' confirmation wait, the status line is not drawn over them", async () => {
  const home = await tempHome();
  const ports = freePorts(10);
  const session = `mup-menu-${Deno.pid}`;
  try {
    // Taken once the apply comes to its start (taken before, the apply would refuse at once).
    const taken = portTakenBefore(home, `start-mongod-localhost-${ports[5]}`, ports[5]);
    const planId = (await planSharded(
      home,
      ports,
      "c1",
      (p) => shardedTopology(p, taken.hooks),
    )).plan_id;
    // Servers that take a while to start keep other operations running while the menu waits.
    const cmd =
      `cd ${ROOT} && MUP_HOME=${home} NO_COLOR=1 MUP_SIM_STARTUP_DELAY_MS=2500 ${Deno.execPath()} ${
        mupRunArgs(["plan", "apply", planId]).join(" ")
      }; echo EXIT=$?; sleep 60`;
    await tmux("new-session", "-d", "-s", session, "-x", "160", "-y", "50", cmd);
    await screenUntil(session, /Do you want to continue\? \(yes\/no\):/);
    await tmux("send-keys", "-t", session, "yes", "Enter");
    const squatter = await taken.take();
    await screenUntil(session, /Options:/);
    await tmux("send-keys", "-t", session, "Down", "Enter"); // 2. skip: asks to confirm
    await screenUntil(session, /Skip anyway\?/);
    // Until the other starts are over (only the operation at the menu still running), the
    // confirmation stays the last line and no status line appears below the menu.
    let sawOthersRunning = false;
    const end = Date.now() + deadline(60_000);
    while (Date.now() < end) {
      const others = (await running(home)).filter((id) => !id.endsWith(String(ports[5])));
      if (others.length) sawOthersRunning = true;
      const s = await screen(session);
      const after = s.slice(s.lastIndexOf("Options:"));
      const lines = after.split("\n").filter((l) => l.trim());
      assert.match(lines[lines.length - 1], /Skip anyway\?/, `screen:\n${s}`);
      assert.doesNotMatch(after, /\d+ running:/, `status line drawn under the menu:\n${s}`);
      if (!others.length) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(sawOthersRunning, "other operations ran while the menu waited");
    squatter.close();
    await tmux("send-keys", "-t", session, "n", "Enter"); // back to the menu
    await screenUntil(session, /Options:[\s\S]*Options:/);
    await tmux("send-keys", "-t", session, "Down", "Down", "Enter"); // 3. abort
    const final = await screenUntil(session, /EXIT=\d+/);
    // What finished while the menu waited is printed after it, not lost.
    assert.match(final, /Skip anyway\?[\s\S]*✓ Start/);
  } finally {
    await tmux("kill-session", "-t", session).catch(() => "");
    await killAll(home);
  }
});
