import assert from "node:assert/strict";
import { shellJoin, shellQuote } from "./shell_quote.ts";

const NASTY = [
  "",
  "plain",
  "a;touch x",
  "$(touch y)",
  "`touch z`",
  "it's",
  "'",
  "''",
  '"double" \\back\\slash',
  "new\nline",
  "tab\there",
  "*",
  "~",
  "-n",
  "a b  c",
  "&&|<>!#{}[]()?",
  "ünïcödé ✓",
  "$HOME ${PATH}",
  "X=1",
];

Deno.test("shellQuote: a real sh gives back every argument byte for byte", async () => {
  // printf prints each argument followed by NUL, so the argv can be compared exactly.
  const line = shellJoin(["printf", "%s\\0", ...NASTY]);
  const out = await new Deno.Command("sh", { args: ["-c", line], stdout: "piped" }).output();
  assert.equal(out.code, 0);
  const got = new TextDecoder().decode(out.stdout).split("\0").slice(0, -1);
  assert.deepEqual(got, NASTY);
});

Deno.test("shellQuote: safe words stay as they are, others are single-quoted", () => {
  assert.equal(shellQuote("/opt/mup/bin/mongod"), "/opt/mup/bin/mongod");
  assert.equal(shellQuote(""), "''");
  assert.equal(shellQuote("a;b"), "'a;b'");
  assert.equal(shellQuote("it's"), `'it'\\''s'`);
  assert.throws(() => shellQuote("a\0b"), /NUL/);
});

Deno.test("shellQuote: an assignment-like first word is quoted, so it runs as a command", () => {
  assert.equal(shellJoin(["X=1", "a"]), "'X=1' a");
});
