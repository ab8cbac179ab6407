import assert from "node:assert/strict";
import { runsServerWith } from "./process.ts";

Deno.test("runsServerWith: a mongod or mongos started with the configuration file, not an editor or a tail of it", () => {
  const conf = "/srv/my cluster/conf/mongod-27017/mongod.conf";
  for (
    const server of [
      `/srv/bin/mongod -f ${conf}`,
      `/srv/bin/mongos --config ${conf}`,
      `mongod --config=${conf}`,
      `/usr/bin/deno run -A /x/sim/main.ts mongod --sim-version 7.0.14 -f ${conf}`,
    ]
  ) assert.ok(runsServerWith(server, conf), server);
  for (
    const other of [
      `tail -f ${conf}`,
      `vim ${conf}`,
      `/srv/bin/mongod -f ${conf}.bak`,
      `/srv/bin/mongod -f /srv/other/mongod.conf`,
      `/srv/bin/mongodump -f ${conf}`,
    ]
  ) assert.ok(!runsServerWith(other, conf), other);
});
