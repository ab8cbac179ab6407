/**
 * Hostile and mutated topologies, generated: the extreme cases too large to keep in
 * tests/corpus/, and seeded random mutations of the examples (the same files on every run).
 */
import * as path from "node:path";
import { ROOT } from "./helpers.ts";

/** Nine levels of nine aliases: 9^9 values once expanded. */
export function billionLaughs(levels = 9): string {
  const names = "abcdefghijklmnop".slice(0, levels).split("");
  const lines = [`    ${names[0]}: &${names[0]} [${Array(9).fill('"lol"').join(", ")}]`];
  for (let i = 1; i < names.length; i++) {
    lines.push(`    ${names[i]}: &${names[i]} [${Array(9).fill(`*${names[i - 1]}`).join(", ")}]`);
  }
  return "mongod_servers:\n  - { host: localhost, port: 27017 }\nglobal:\n  runtime_config:\n" +
    lines.join("\n") + "\n";
}

/** `n` servers, one block each: `n` × about 70 bytes. */
export function manyServers(n: number): string {
  const out = ["mongod_servers:"];
  for (let i = 0; i < n; i++) {
    out.push(
      `  - host: host-${i}.example.com\n    port: ${20000 + (i % 40000)}\n    replica_set: rs${
        Math.floor(i / 3)
      }`,
    );
  }
  return out.join("\n") + "\n";
}

/** The extreme files of issue 12, by file name. */
export function hostileTopologies(): Record<string, string> {
  const server = "mongod_servers:\n  - host: localhost\n    port: 27017\n";
  return {
    "gen_billion_laughs.yaml": billionLaughs(9),
    "gen_deep_flow_10000.yaml": `${server}    runtime_config:\n      x: ${"[".repeat(10_000)}${
      "]".repeat(10_000)
    }\n`,
    "gen_deep_flow_map_10000.yaml": `${server}    runtime_config:\n      x: ${
      "{a: ".repeat(10_000)
    }1${"}".repeat(10_000)}\n`,
    "gen_deep_block_sequence_10000.yaml": `mongod_servers:\n${"- ".repeat(10_000)}x\n`,
    "gen_deep_block_mapping_1000.yaml": `${server}    runtime_config:\n` +
      Array.from({ length: 1000 }, (_, i) => `${" ".repeat(6 + i)}k${i}:`).join("\n") + " 1\n",
    "gen_undefined_alias.yaml": `${server}    runtime_config: *nothing\n`,
    "gen_10mb.yaml": manyServers(150_000),
    "gen_12000_processes.yaml": manyServers(12_000),
    "gen_large_syntax_error.yaml": manyServers(9_000) + "  - host: [unclosed\n",
    "gen_hook_timeout_just_over.yaml":
      `${server}hooks:\n  after_apply: { command: "true", timeout: 596h31m23s648ms }\n`,
    "gen_hook_timeout_ms_over.yaml":
      `${server}hooks:\n  after_apply: { command: "true", timeout: 2147483648 }\n`,
  };
}

/** A small deterministic PRNG (mulberry32), so the mutations are the same on every run. */
function prng(seed: number): () => number {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SPECIALS = [
  "*x",
  "&a ",
  "[",
  "]",
  "{",
  "}",
  ": ",
  "- ",
  "\t",
  '"',
  "'",
  "!!binary ",
  "!!js/function ",
  "<<: *a\n",
  "---\n",
  "...\n",
  "? ",
  "|\n",
  ">\n",
  "%YAML 1.1\n",
  "\u0000",
  "\uFEFF",
  "#",
  "99999999999999999999",
  "-1",
  "0x10",
  ".inf",
  "~",
  "../../EVIL",
  "/",
  "\\",
  "\n  ",
];

/** `n` mutations of the example topologies, as [name, text]. */
export function mutatedTopologies(n: number, seed = 12): [string, string][] {
  const rnd = prng(seed);
  const pick = <T>(a: T[]) => a[Math.floor(rnd() * a.length)];
  const sources = ["standalone.yaml", "replica-set.yaml", "sharded.yaml"]
    .map((f) => Deno.readTextFileSync(path.join(ROOT, "examples", f)));
  const out: [string, string][] = [];
  for (let i = 0; i < n; i++) {
    let t = pick(sources);
    for (let m = 1 + Math.floor(rnd() * 3); m > 0; m--) {
      const at = Math.floor(rnd() * (t.length + 1));
      const kind = Math.floor(rnd() * 4);
      if (kind === 0) t = t.slice(0, at) + pick(SPECIALS) + t.slice(at);
      else if (kind === 1) t = t.slice(0, at) + t.slice(at + 1 + Math.floor(rnd() * 8));
      else if (kind === 2) {
        const lines = t.split("\n");
        const l = Math.floor(rnd() * lines.length);
        lines.splice(l, 0, lines[Math.floor(rnd() * lines.length)]);
        t = lines.join("\n");
      } else t = t.replace(/\d+/, () => pick(["0", "65536", "1e400", "-5", "27017.5"]));
    }
    out.push([`mutation-${i}.yaml`, t]);
  }
  return out;
}
