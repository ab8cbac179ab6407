import assert from "node:assert/strict";
import { MongoServerError } from "mongodb";
import { serverMessage } from "./server_error.ts";

Deno.test("serverMessage: a server's refusal keeps its code and code name; other errors their message", () => {
  const refused = new MongoServerError({
    ok: 0,
    errmsg: "version field value of 3 is out of date",
    code: 103,
    codeName: "NewReplicaSetConfigurationIncompatible",
  });
  assert.equal(
    serverMessage(refused),
    "version field value of 3 is out of date (code 103, NewReplicaSetConfigurationIncompatible)",
  );
  assert.equal(
    serverMessage(new MongoServerError({ ok: 0, errmsg: "no name", code: 8000 })),
    "no name (code 8000)",
  );
  assert.equal(serverMessage(new Error("connection closed")), "connection closed");
  assert.equal(serverMessage("plain"), "plain");
});
