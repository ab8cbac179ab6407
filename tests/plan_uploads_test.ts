/**
 * A plan edited and sealed again must not make mup copy to a host any file but those it uploads
 * itself: a process's staged configuration (to its configuration file) and the cluster's
 * keyfile, CA and certificates (to their places). An upload_file whose destination is not a
 * configuration file, with another `source` from MUP_HOME (another cluster's password) or the
 * secret `secret:admin`, is refused by validate, import and apply, naming the operation and the
 * parameter; nothing is copied (lib/plan/plan_uploads.ts).
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import type { Plan } from "../lib/plan/schema.ts";
import { freePorts, mup, output, planSharded, tempHome } from "./helpers.ts";
import { assertRefused, esc, reseal, standalone } from "./resealed.ts";
import { installFixture, tempDir } from "./fixture.ts";

installFixture();

/** `plan` with one more upload_file: a copy of its keyfile upload with `params` and `dest`. */
function withUpload(plan: Plan, id: string, params: Record<string, string>): string {
  return reseal(plan, (p) => {
    const ops = p.phases[0].operations;
    const keyfile = ops.find((o) => o.type === "upload_file" && o.target.params.secret)!;
    const { secret: _, ...rest } = keyfile.target.params;
    ops.push({
      ...structuredClone(keyfile),
      id,
      target: { ...keyfile.target, params: { ...rest, ...params } },
    });
  });
}

Deno.test("a resealed plan whose upload_file copies another file of MUP_HOME, or the password, to a host is refused by validate, import and apply; nothing is copied", async () => {
  const home = await tempHome();
  const { plan } = await planSharded(home, freePorts(1), "c1", standalone);
  const dir = await tempDir("mup-upload-");
  // Another cluster's password in the same store.
  const victim = path.join(home, "storage", "clusters", "victim", "secrets", "admin.json");
  await Deno.mkdir(path.dirname(victim), { recursive: true });
  await Deno.writeTextFile(victim, '{"user":"admin","password":"victim-password"}\n');
  const stolen = path.join(plan.deploy_dir, "stolen.json");
  const cases: [string, Record<string, string>, RegExp][] = [
    [
      "upload-stolen",
      { source: victim, dest: stolen },
      new RegExp(
        `operation upload-stolen \\(upload_file\\): parameter "source" is "${esc(victim)}"`,
      ),
    ],
    [
      "upload-password",
      { secret: "secret:admin", dest: stolen },
      /operation upload-password \(upload_file\): parameter "secret" is "secret:admin"/,
    ],
  ];
  for (const [id, params, names] of cases) {
    const text = withUpload(plan, id, params);
    const file = path.join(dir, `${id}.json`);
    await Deno.writeTextFile(file, text);
    const fix = /make a new one with `mup cluster deploy c1 <topology>`/;
    assertRefused(await mup(["plan", "validate", file], { home }), `${id}: validate`, names, fix);
    const other = await tempHome();
    assertRefused(
      await mup(["plan", "import"], { home: other, stdin: text }),
      `${id}: import`,
      /nothing was imported/,
      names,
    );
    assertRefused(
      await mup(["plan", "apply", file, "--auto-approve"], { home }),
      `${id}: apply`,
      names,
    );
    assert.equal(await Deno.lstat(stolen).then(() => true, () => false), false, `${id}: copied`);
  }
  // The plan as mup made it applies.
  const applied = await mup(["plan", "apply", plan.plan_id, "--auto-approve"], { home });
  assert.equal(applied.code, 0, output(applied));
});

Deno.test("a resealed plan whose generate_secret copies another cluster's password or keyfile into this cluster's secrets is refused by validate and apply; the plan's own keyfile source and this cluster's archive pass", async () => {
  const home = await tempHome();
  const { plan } = await planSharded(home, freePorts(1), "c1", standalone);
  const dir = await tempDir("mup-secret-source-");
  const victim = path.join(home, "storage", "clusters", "victim", "secrets");
  const cases: [string, string, RegExp][] = [
    ["secret-admin", path.join(victim, "admin.json"), /admin credentials only from an archive/],
    ["secret-keyfile", path.join(victim, "keyfile"), /keyfile only from the one/],
    [
      "secret-admin",
      path.join(home, "storage", "archive", "victim-plan-1234abcd", "secrets", "admin.json"),
      /admin credentials only from an archive of cluster c1/,
    ],
  ];
  for (const [id, source, why] of cases) {
    const text = reseal(plan, (p) => {
      const o = p.phases.flatMap((ph) => ph.operations).find((x) => x.id === id)!;
      o.target.params.source = source;
    });
    const file = path.join(dir, `${id}.json`);
    await Deno.writeTextFile(file, text);
    const names = new RegExp(
      `operation ${id} \\(generate_secret\\): parameter "source" is "${esc(source)}"`,
    );
    assertRefused(await mup(["plan", "validate", file], { home }), `${id}: validate`, names, why);
    assertRefused(await mup(["plan", "apply", file, "--auto-approve"], { home }), id, names);
  }
  // This cluster's own archive (a deploy onto retained data) passes validation.
  const own = reseal(plan, (p) => {
    const o = p.phases.flatMap((ph) => ph.operations).find((x) => x.id === "secret-admin")!;
    o.target.params.source = path.join(
      home,
      "storage",
      "archive",
      "c1-plan-1234abcd",
      "secrets",
      "admin.json",
    );
  });
  await Deno.writeTextFile(path.join(dir, "own.json"), own);
  const ok = await mup(["plan", "validate", path.join(dir, "own.json")], { home });
  assert.equal(ok.code, 0, output(ok));
});

Deno.test("a resealed plan that installs the keyfile or a configuration with a looser mode is refused, naming the operation and the mode mup uses", async () => {
  const home = await tempHome();
  const { plan } = await planSharded(home, freePorts(1), "c1", standalone);
  const dir = await tempDir("mup-upload-mode-");
  for (const [which, want] of [["secret", "0400"], ["source", "0600"]] as const) {
    let id = "";
    const text = reseal(plan, (p) => {
      const o = p.phases.flatMap((ph) => ph.operations).find((x) =>
        x.type === "upload_file" && x.target.params[which] !== undefined &&
        x.target.params.kind !== "binaries"
      )!;
      id = o.id;
      o.target.params.mode = "0644";
    });
    const file = path.join(dir, `${which}.json`);
    await Deno.writeTextFile(file, text);
    assertRefused(
      await mup(["plan", "validate", file], { home }),
      which,
      new RegExp(`operation ${esc(id)} \\(upload_file\\): parameter "mode" is "0644"; .*${want}`),
    );
  }
});
