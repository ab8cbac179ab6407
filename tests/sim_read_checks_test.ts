/**
 * What a read must carry to run, as MongoDB checks it before reading: listCollections and
 * listDatabases are opt-in on a secondary like find (NotPrimaryNoSecondaryOk, 13435, without a
 * secondary read preference; a direct connection's driver sends primaryPreferred), and a
 * readConcern with an unknown option, or afterClusterTime with linearizable or available, is
 * refused (InvalidOptions, 72; read_concern_args.cpp).
 * https://www.mongodb.com/docs/manual/reference/read-concern/
 */
import assert from "node:assert/strict";
import type { Timestamp } from "bson";
import { freePorts } from "./helpers.ts";
import { admin, adminError, simBin, startReplSet, withDir } from "./sim_helpers.ts";
import { encodeMsg, MessageReader, parseMessage } from "../sim/wire.ts";
import { installFixture } from "./fixture.ts";

installFixture();

/** Sends `body` as one OP_MSG on a fresh connection to `port`; the reply's body. */
async function raw(port: number, body: Record<string, unknown>) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(encodeMsg(body, 0, 1));
    const reply = parseMessage((await new MessageReader(conn).next())!);
    assert.ok(reply.kind === "msg");
    return reply.body;
  } finally {
    conn.close();
  }
}

Deno.test("simulator: listings on a secondary need a secondary read preference (13435), and a readConcern with an unknown option or afterClusterTime at linearizable or available is refused (72)", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const [primary, secondary] = freePorts(2);
    await startReplSet(bin, dir, [primary, secondary]);
    const secondaryOk = { $readPreference: { mode: "secondaryPreferred" } };
    for (
      const [db, cmd] of [
        ["app", { find: "t" }],
        ["app", { listCollections: 1 }],
        ["admin", { listDatabases: 1 }],
      ] as const
    ) {
      const refused = await raw(secondary, { ...cmd, $db: db });
      assert.deepEqual(
        [refused.ok, refused.code, refused.codeName],
        [0, 13435, "NotPrimaryNoSecondaryOk"],
        JSON.stringify(cmd),
      );
      assert.equal((await raw(secondary, { ...cmd, $db: db, ...secondaryOk })).ok, 1);
      assert.equal((await raw(primary, { ...cmd, $db: db })).ok, 1, "the primary's need none");
    }
    // The driver, connected directly to one member, reads on it as primaryPreferred.
    assert.ok(Array.isArray((await admin(secondary, { listDatabases: 1 })).databases));

    const { operationTime } = await admin(primary, { ping: 1 });
    const at = operationTime as Timestamp;
    for (const level of ["linearizable", "available"]) {
      const e = await adminError(primary, {
        find: "t",
        readConcern: { level, afterClusterTime: at },
      });
      assert.deepEqual([e.code, e.codeName], [72, "InvalidOptions"], level);
    }
    const unknown = await adminError(primary, { find: "t", readConcern: { level: "local", x: 1 } });
    assert.deepEqual([unknown.code, unknown.message], [
      72,
      "Unrecognized option in readConcern: x",
    ]);
    const majority = await admin(primary, {
      find: "t",
      readConcern: { level: "majority", afterClusterTime: at },
    });
    assert.equal(majority.ok, 1);
  });
});
