/**
 * How fast hostile topologies are refused (issue 12: "within a second"), as a user meets it:
 * `mup topology validate <file>` in a fresh process per file, for the committed corpus
 * (tests/corpus/topology) and the generated extreme files (tests/untrusted_corpus.ts). Prints
 * the wall time of each and of a valid example for comparison (Deno's own start included), and
 * the time mup's loader takes on it in this process (no start-up); asserts nothing.
 */
import * as path from "node:path";
import { hostileTopologies } from "../tests/untrusted_corpus.ts";
import { mup, ROOT } from "../tests/helpers.ts";
import { loadTopology } from "../lib/topology/load.ts";

export async function benchInput(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "mup-bench-input-" });
  try {
    const files: string[] = [path.join(ROOT, "examples", "sharded.yaml")];
    const corpus = path.join(ROOT, "tests", "corpus", "topology");
    for await (const e of Deno.readDir(corpus)) files.push(path.join(corpus, e.name));
    for (const [name, text] of Object.entries(hostileTopologies())) {
      const f = path.join(dir, name);
      await Deno.writeTextFile(f, text);
      files.push(f);
    }
    console.log(
      "input: `mup topology validate` per file: fresh process (wall time, exit code); loader alone",
    );
    const times: number[] = [];
    for (const f of files) {
      const t0 = performance.now();
      const r = await mup(["topology", "validate", f], { home: dir });
      const ms = performance.now() - t0;
      if (!f.endsWith("sharded.yaml")) times.push(ms);
      const size = (await Deno.stat(f)).size;
      const t1 = performance.now();
      await loadTopology(f).catch(() => {});
      const loader = performance.now() - t1;
      console.log(
        `  ${path.basename(f).padEnd(40)} ${(size / 1024).toFixed(0).padStart(6)} KB  ` +
          `${ms.toFixed(0).padStart(5)} ms  exit ${r.code}   loader ${loader.toFixed(0)} ms`,
      );
    }
    times.sort((a, b) => a - b);
    console.log(
      `  ${times.length} hostile files: median ${times[times.length >> 1].toFixed(0)} ms, ` +
        `slowest ${times[times.length - 1].toFixed(0)} ms`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) await benchInput();
