import assert from "node:assert/strict";
import { commandLineOf, hasRelativeConfig, withAbsoluteConfig } from "./command_line.ts";

Deno.test("withAbsoluteConfig: a relative -f, --config or --config= is resolved against the cwd; absolute ones and other arguments stay", () => {
  const cwd = "/srv/mup/conf";
  assert.deepEqual(withAbsoluteConfig(["mongod", "-f", "m.conf"], cwd), [
    "mongod",
    "-f",
    "/srv/mup/conf/m.conf",
  ]);
  assert.deepEqual(withAbsoluteConfig(["mongos", "--config", "../c/s.conf", "-v"], cwd), [
    "mongos",
    "--config",
    "/srv/mup/c/s.conf",
    "-v",
  ]);
  assert.deepEqual(withAbsoluteConfig(["mongod", "--config=./m.conf"], cwd), [
    "mongod",
    "--config=/srv/mup/conf/m.conf",
  ]);
  const absolute = ["mongod", "-f", "/etc/mongod.conf", "--logpath", "rel.log"];
  assert.deepEqual(withAbsoluteConfig(absolute, cwd), absolute);
  assert.deepEqual(withAbsoluteConfig(["mongod", "-f", "m.conf"], undefined), [
    "mongod",
    "-f",
    "m.conf",
  ]);
  // A trailing -f names nothing.
  assert.equal(hasRelativeConfig(["mongod", "-f"]), false);
  assert.equal(hasRelativeConfig(["tail", "-f", "x.log"]), true);
});

Deno.test("commandLineOf: asks the cwd only for a relative configuration file", async () => {
  let asked = 0;
  const cwd = () => (asked++, Promise.resolve("/d"));
  assert.equal(await commandLineOf("mongod\0-f\0/a/m.conf\0", cwd), "mongod -f /a/m.conf");
  assert.equal(asked, 0);
  assert.equal(await commandLineOf("mongod\0-f\0m.conf\0", cwd), "mongod -f /d/m.conf");
  assert.equal(asked, 1);
  assert.equal(await commandLineOf("", cwd), "");
  // A process whose cwd cannot be read keeps its words as they are.
  assert.equal(
    await commandLineOf("mongod\0-f\0m.conf\0", () => Promise.resolve(undefined)),
    "mongod -f m.conf",
  );
});
