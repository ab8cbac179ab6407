/** The interactive paths, driven through a real terminal (tmux): confirmation and the safety-check menu. */
import assert from "node:assert/strict";
import { freePorts, killAll, planSharded, ROOT, tempHome } from "./helpers.ts";
import { currentState } from "./apply_helpers.ts";

async function tmux(...args: string[]): Promise<string> {
  const r = await new Deno.Command("tmux", { args, stdout: "piped", stderr: "piped" }).output();
  return new TextDecoder().decode(r.stdout);
}

async function screenUntil(session: string, pattern: RegExp, ms = 30_000): Promise<string> {
  const end = Date.now() + ms;
  let screen = "";
  while (Date.now() < end) {
    screen = await tmux("capture-pane", "-p", "-J", "-S", "-200", "-t", session);
    if (pattern.test(screen)) return screen;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${pattern} on screen:\n${screen}`);
}

function mupInTerminal(session: string, home: string, args: string[]): Promise<string> {
  const cmd =
    `cd ${ROOT} && MUP_HOME=${home} NO_COLOR=1 ${Deno.execPath()} run -A --quiet main.ts ${
      args.join(" ")
    }; echo EXIT=$?; sleep 60`;
  return tmux("new-session", "-d", "-s", session, "-x", "160", "-y", "50", cmd);
}

Deno.test("in a terminal: confirm with yes, pause at a failed safety check, then resume and retry once it is fixed", async () => {
  const home = await tempHome();
  const ports = freePorts(10);
  const session = `mup-tty-${Deno.pid}`;
  try {
    const planId = (await planSharded(home, ports)).plan_id;
    const squatter = Deno.listen({ hostname: "127.0.0.1", port: ports[5] });

    await mupInTerminal(session, home, ["plan", "apply", planId]);
    await screenUntil(session, /Do you want to continue\? \(yes\/no\):/);
    await tmux("send-keys", "-t", session, "yes", "Enter");
    let screen = await screenUntil(session, /Options:/);
    assert.match(
      screen,
      new RegExp(`Safety check failed for operation start-mongod-localhost-${ports[5]}`),
    );
    assert.match(screen, /Fix the issue and retry operation/);
    assert.match(screen, /Skip this operation \(dangerous\)/);
    await tmux("send-keys", "-t", session, "Down", "Down", "Down", "Enter");
    screen = await screenUntil(session, /EXIT=\d+/);
    assert.match(screen, /Apply paused at phase 2/);
    assert.match(screen, /EXIT=1/);
    assert.equal((await currentState(home, "c1")).status, "paused");
    await tmux("kill-session", "-t", session);

    await mupInTerminal(session, home, ["plan", "resume", "c1"]);
    await screenUntil(session, /Options:/);
    squatter.close();
    await tmux("send-keys", "-t", session, "Enter"); // 1. retry
    screen = await screenUntil(session, /EXIT=\d+/, 60_000);
    assert.match(screen, /Deployment completed successfully!/);
    assert.match(screen, /EXIT=0/);
    const st = await currentState(home, "c1");
    assert.equal(st.status, "completed");
    assert.ok(st.operation_states[`start-mongod-localhost-${ports[5]}`].retries >= 1);
  } finally {
    await tmux("kill-session", "-t", session).catch(() => "");
    await killAll(home);
  }
});
