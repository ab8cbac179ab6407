import assert from "node:assert/strict";
import * as path from "node:path";

const MODULE = path.join(import.meta.dirname!, "user.ts");

/** userName() in a fresh process with exactly `env`. */
async function nameWith(env: Record<string, string>): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { userName } from ${JSON.stringify(MODULE)}; console.log(userName());`,
    ],
    clearEnv: true,
    env: { PATH: Deno.env.get("PATH") ?? "", HOME: Deno.env.get("HOME") ?? "/", ...env },
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).trim();
}

Deno.test('userName: $USER when set; without $USER and $LOGNAME (cron, containers) the passwd name of the uid, never "unknown"', async () => {
  assert.equal(await nameWith({ USER: "alice" }), "alice");
  const id = await new Deno.Command("id", { args: ["-un"] }).output();
  const expected = new TextDecoder().decode(id.stdout).trim();
  assert.equal(await nameWith({}), expected);
});
