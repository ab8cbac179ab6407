import assert from "node:assert/strict";
import { formatArchiveSize, formatDuration, table, visible } from "./format.ts";

Deno.test("table() pads every column but the last to its width", () => {
  assert.equal(
    table([6, 4], [["ID", "ST", "WHEN"], ["a-1", "ok", "now"]]),
    "ID    ST  WHEN\na-1   ok  now",
  );
});

Deno.test("table() widens a column whose cell is longer than its width, keeping two spaces", () => {
  assert.equal(
    table([6, 4], [["ID", "STATUS", "WHEN"], ["a-1", "not deployed", "now"]]),
    "ID    STATUS        WHEN\na-1   not deployed  now",
  );
});

Deno.test("formatArchiveSize() gives KB under a megabyte (never 0), MB above", () => {
  assert.equal(formatArchiveSize(120), "1KB");
  assert.equal(formatArchiveSize(12_400), "12KB");
  assert.equal(formatArchiveSize(74_300_000), "74MB");
});

Deno.test("formatDuration() rounds before it splits: never '60s' within a minute", () => {
  assert.equal(formatDuration(1500), "1.5s");
  assert.equal(formatDuration(59_970), "1m");
  assert.equal(formatDuration(95_000), "1m 35s");
  assert.equal(formatDuration(299_700), "5m");
  assert.equal(formatDuration(7_200_000), "2h");
});

Deno.test("visible() escapes control characters but the tab, C1 ones too, and keeps other text", () => {
  assert.equal(visible("a\x1b[2Jb\x07\tc é"), "a\\x1b[2Jb\\x07\tc é");
  assert.equal(visible("x\x9by\r"), "x\\u{9b}y\\x0d");
});
