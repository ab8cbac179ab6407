import assert from "node:assert/strict";
import { type RepairFile, type RepairFinding, replacedCaIssue } from "./repair_files.ts";

const meta = {
  name: "rs",
  processes: ["a", "b", "c"].map((id) => ({ id })),
} as unknown as Parameters<typeof replacedCaIssue>[0];
const files: RepairFile[] = [{
  op: "upload-ca-h",
  host: "h",
  path: "/d/secrets/ca.pem",
  resource: "h:/d/secrets/ca.pem",
  secret: "secret:ca",
}];
const hostCaDiffers: RepairFinding[] = [{
  op: "upload-ca-h",
  path: "/d/secrets/ca.pem",
  found: "differs",
  what: "secret",
}];
const store = { ca: "/s/ca.pem", caKey: "/s/ca.key" };

Deno.test("replacedCaIssue: every certificate left in the store fails, some gone, the hosts' ca.pem another: refused", () => {
  const signs = [
    { id: "a", found: "unsigned" as const },
    { id: "b", found: "missing" as const },
    { id: "c", found: "unsigned" as const },
  ];
  const issue = replacedCaIssue(meta, signs, hostCaDiffers, files, store);
  assert.equal(issue?.code, "ca_replaced");
  assert.match(issue!.message, /the CA in mup's store is not the cluster's/);
});

Deno.test("replacedCaIssue: one certificate of the store's CA, or the hosts' ca.pem the store's, or only missing ones: not refused", () => {
  const some = [
    { id: "a", found: "unsigned" as const },
    { id: "b", found: "missing" as const },
  ];
  assert.equal(replacedCaIssue(meta, some, hostCaDiffers, files, store), undefined);
  const all = ["a", "b", "c"].map((id) => ({ id, found: "unsigned" as const }));
  assert.equal(replacedCaIssue(meta, all, [], files, store), undefined);
  const gone = ["a", "b", "c"].map((id) => ({ id, found: "missing" as const }));
  assert.equal(replacedCaIssue(meta, gone, hostCaDiffers, files, store), undefined);
});
