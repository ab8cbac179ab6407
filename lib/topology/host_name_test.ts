import assert from "node:assert/strict";
import { hostProblem } from "./host_name.ts";

Deno.test("hostProblem: names, IPv4 and IPv6 literals pass", () => {
  for (
    const h of [
      "localhost",
      "db1",
      "db-1.example.com",
      "my_host.internal",
      "10.0.0.12",
      "127.0.0.2",
      "::1",
      "[::1]",
      "fd00::12",
      "fe80::1%eth0",
      "::ffff:10.0.0.1",
    ]
  ) assert.equal(hostProblem(h), undefined, h);
});

Deno.test("hostProblem: an option-like, malformed or impossible host is named with its fault (tester38)", () => {
  const cases: [string, RegExp][] = [
    ["-V", /starts with "-", which ssh would read as an option/],
    ["-oProxyCommand=x", /holds "="|starts with "-"/],
    ["exa_mple..com", /has an empty label/],
    ["db.", /has an empty label/],
    ["10.0.0.300", /is not an IPv4 address: 300 is over 255/],
    ["10.0.0", /takes four numbers/],
    ["local host", /holds a space/],
    ["db-.example.com", /starts or ends with "-" \(db-\)/],
    ["a:b:c", /is not an IPv6 literal/],
    ["localhost:28001", /holds a port: the host is localhost, and its port goes in port:/],
    ["1:::2", /is not an IPv6 literal/],
    ["db%1", /only an IPv6 literal has/],
    ["", /is empty/],
    [`${"a".repeat(64)}.com`, /longer than 63/],
  ];
  for (const [h, want] of cases) {
    const p = hostProblem(h);
    assert.ok(p, `${h} refused`);
    assert.match(p.problem, want, h);
    assert.ok(p.fix.length > 0);
  }
});
