import type { Document, LineCounter } from "yaml";
import type { SourceLocation } from "../errors.ts";

type YamlModule = typeof import("yaml");

/**
 * Where things are in a topology file. js-yaml reads topologies; `yaml`, which keeps source
 * positions, parses the text again only when a problem has to be located, so it is imported
 * then and not before.
 */
export class Positions {
  private constructor(
    private readonly y: YamlModule,
    readonly doc: Document,
    private readonly lc: LineCounter,
    private readonly file: string,
  ) {}

  static async of(text: string, file: string): Promise<Positions> {
    const y = await import("yaml");
    const lc = new y.LineCounter();
    const doc = y.parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
    return new Positions(y, doc, lc, file);
  }

  at(offset: number | undefined, path?: string): SourceLocation {
    if (offset === undefined) return { file: this.file, path };
    const { line, col } = this.lc.linePos(offset);
    return { file: this.file, line, column: col, path };
  }

  /**
   * The key written again at `offset` (the yaml library's DUPLICATE_KEY error points there, or,
   * after a key with an empty value, at that empty value: then the first repeated key after
   * `offset`): its name, its field path, its offset (`start`) and the place of its first
   * occurrence in the same mapping. Undefined when no repeated mapping key starts at or after
   * `offset`.
   */
  duplicateKey(
    offset: number,
  ): { key: string; path: string; start: number; first?: SourceLocation } | undefined {
    const y = this.y;
    let best: { start: number; key: string; path: string; first?: SourceLocation } | undefined;
    // deno-lint-ignore no-explicit-any
    const nameOf = (k: any) => y.isScalar(k) ? String(k.value) : String(k);
    // deno-lint-ignore no-explicit-any
    const walk = (node: any, at: (string | number)[]): void => {
      if (y.isMap(node)) {
        for (const [i, pair] of node.items.entries()) {
          // deno-lint-ignore no-explicit-any
          const k: any = pair.key;
          const name = nameOf(k);
          const start = k?.range?.[0];
          // deno-lint-ignore no-explicit-any
          const first: any = node.items.slice(0, i).find((p: any) => nameOf(p.key) === name);
          if (
            first && typeof start === "number" && start >= offset &&
            start < (best?.start ?? Infinity)
          ) {
            best = {
              start,
              key: name,
              path: pathString([...at, name]),
              first: first?.key?.range ? this.at(first.key.range[0]) : undefined,
            };
          }
          walk(pair.value, [...at, name]);
        }
      } else if (y.isSeq(node)) {
        for (const [i, item] of node.items.entries()) walk(item, [...at, i]);
      }
    };
    walk(this.doc.contents, []);
    return best;
  }

  /** The place of a field path (of its key with `key`), or of the nearest part that exists. */
  locate(path: (string | number)[], key = false): SourceLocation {
    return this.at(this.nodeOffset(path, key), pathString(path) || undefined);
  }

  private nodeOffset(path: (string | number)[], key: boolean): number | undefined {
    // deno-lint-ignore no-explicit-any
    let node: any = this.doc.contents;
    let offset: number | undefined = node?.range?.[0];
    for (let n = 0; n < path.length; n++) {
      const p = path[n];
      if (this.y.isMap(node)) {
        // A key written twice: the value read is the last one (js-yaml, json mode).
        // deno-lint-ignore no-explicit-any
        const pair: any = node.items.findLast((it) =>
          this.y.isScalar(it.key) && it.key.value === p
        );
        if (!pair) return offset;
        if (key && n === path.length - 1) return pair.key?.range?.[0];
        offset = pair.value?.range?.[0] ?? pair.key?.range?.[0];
        node = pair.value;
      } else if (node?.items && typeof p === "number") {
        node = node.items[p];
        offset = node?.range?.[0] ?? offset;
      } else return offset;
    }
    return offset;
  }
}

export function pathString(path: readonly PropertyKey[]): string {
  let s = "";
  for (const p of path) s += typeof p === "number" ? `[${p}]` : (s ? "." : "") + String(p);
  return s;
}
