import assert from "node:assert/strict";
import { ChunkedEncoder, jsonPieces } from "./json_text.ts";

function encodeAll(pieces: string[]): { text: string; calls: number } {
  const dec = new TextDecoder();
  let text = "";
  let calls = 0;
  const enc = new ChunkedEncoder((bytes) => {
    calls++;
    text += dec.decode(bytes, { stream: true });
  });
  for (const p of pieces) enc.write(p);
  enc.flush();
  return { text: text + dec.decode(), calls };
}

Deno.test("ChunkedEncoder hands over every byte in order, across buffers and multi-byte characters", () => {
  const pieces = [
    "é".repeat(300_000), // 600 kB of two-byte characters
    "x".repeat(3_000_000), // one piece larger than the buffer
    "→ done\n",
    ...Array.from({ length: 2000 }, (_, i) => `line ${i} ✓\n`),
  ];
  const { text, calls } = encodeAll(pieces);
  assert.equal(text, pieces.join(""));
  assert.ok(calls >= 3, `expected several flushes, got ${calls}`);
});

Deno.test("jsonPieces() indents the outer levels, writes deeper values on one line, and parses back", () => {
  const value = { a: 1, list: [{ x: [1, 2], y: 'q"uote' }, { z: null }], empty: [], none: {} };
  let text = "";
  jsonPieces(value, 2, (p) => text += p);
  assert.deepEqual(JSON.parse(text), value);
  assert.equal(
    text,
    '{\n  "a": 1,\n  "list": [\n    {"x":[1,2],"y":"q\\"uote"},\n    {"z":null}\n  ],\n  "empty": [],\n  "none": {}\n}',
  );
});
