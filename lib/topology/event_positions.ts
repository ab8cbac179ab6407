import * as jsyaml from "js-yaml";
import type { SourceLocation } from "../errors.ts";
import { pathString } from "./positions.ts";

/**
 * Where field paths are in a topology file, found in the event list js-yaml's parser already
 * produced (see limits.ts): no second parse, so locating the problems of a large file costs
 * a walk over its events per problem, not a slower positioned parse of the whole text.
 */
export class EventPositions {
  private locator: ((offset: number) => SourceLocation) | undefined;

  constructor(
    private readonly text: string,
    private readonly events: jsyaml.Event[],
    private readonly file: string,
  ) {}

  /** The 1-based line and column of a source offset. */
  at(offset: number | undefined, path?: string): SourceLocation {
    if (offset === undefined) return { file: this.file, ...(path ? { path } : {}) };
    this.locator ??= offsetLocator(this.text, this.file);
    return { ...this.locator(offset), ...(path ? { path } : {}) };
  }

  /** The place of a field path (of its key with `key`), or of the nearest part that exists. */
  locate(path: (string | number)[], key = false): SourceLocation {
    // A path in an empty document (no servers at all) is placed at the file's start.
    return this.at(this.offset(path, key) ?? 0, pathString(path) || undefined);
  }

  /** The value at `path` as written (a plain scalar's characters; `'0700'` with its quotes). */
  written(path: (string | number)[]): string | undefined {
    const at = this.offset(path, false);
    return at === undefined ? undefined : /^[^\s,}\]#]*/.exec(this.text.slice(at))?.[0];
  }

  private offset(path: (string | number)[], key: boolean): number | undefined {
    const ev = this.events;
    let i = ev.findIndex((e) => e.type !== jsyaml.EVENT_ID.DOCUMENT);
    if (i < 0) return undefined;
    let offset = start(ev[i]);
    for (let n = 0; n < path.length; n++) {
      const node = ev[i];
      const p = path[n];
      // An empty value (`runtime_config:` with nothing after it) has no place: its key's is used.
      let keyAt: number | undefined;
      if (node.type === jsyaml.EVENT_ID.MAPPING) {
        let j = i + 1;
        let found = -1;
        // A key written twice: the last one, whose value is the one read (limits.ts).
        while (ev[j] && ev[j].type !== jsyaml.EVENT_ID.POP) {
          const k = ev[j];
          const isMatch = k.type === jsyaml.EVENT_ID.SCALAR &&
            jsyaml.getScalarValue(this.text, k) === String(p);
          const valueAt = this.skip(j);
          if (isMatch) {
            keyAt = start(k);
            found = valueAt;
          }
          j = this.skip(valueAt);
        }
        if (key && n === path.length - 1 && found >= 0) return keyAt;
        if (found < 0 || !ev[found] || ev[found].type === jsyaml.EVENT_ID.POP) return offset;
        i = found;
      } else if (node.type === jsyaml.EVENT_ID.SEQUENCE && typeof p === "number") {
        let j = i + 1;
        for (let k = 0; k < p && ev[j] && ev[j].type !== jsyaml.EVENT_ID.POP; k++) j = this.skip(j);
        if (!ev[j] || ev[j].type === jsyaml.EVENT_ID.POP) return offset;
        i = j;
      } else return offset;
      offset = start(ev[i]) ?? keyAt ?? offset;
    }
    return offset;
  }

  /** The index just past the node that starts at `i`. */
  private skip(i: number): number {
    const t = this.events[i]?.type;
    if (t !== jsyaml.EVENT_ID.MAPPING && t !== jsyaml.EVENT_ID.SEQUENCE) return i + 1;
    let depth = 0;
    for (let j = i; j < this.events.length; j++) {
      const e = this.events[j].type;
      if (e === jsyaml.EVENT_ID.MAPPING || e === jsyaml.EVENT_ID.SEQUENCE) depth++;
      else if (e === jsyaml.EVENT_ID.POP && --depth === 0) return j + 1;
    }
    return this.events.length;
  }
}

/** Offset → 1-based line and column in `text`, with the line starts found once, on first use. */
export function offsetLocator(text: string, file: string): (offset: number) => SourceLocation {
  let starts: number[] | undefined;
  return (offset) => {
    if (!starts) {
      starts = [0];
      for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
    }
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { file, line: lo + 1, column: offset - starts[lo] + 1 };
  };
}

/** Where an event's node starts in the text; undefined for an empty (implicit null) value. */
function start(e: jsyaml.Event): number | undefined {
  const at = startOrNegative(e);
  return at !== undefined && at >= 0 ? at : undefined;
}

function startOrNegative(e: jsyaml.Event): number | undefined {
  switch (e.type) {
    case jsyaml.EVENT_ID.MAPPING:
    case jsyaml.EVENT_ID.SEQUENCE:
      return e.anchorStart >= 0 ? e.anchorStart - 1 : e.start;
    case jsyaml.EVENT_ID.SCALAR:
      return e.anchorStart >= 0 ? e.anchorStart - 1 : e.valueStart;
    case jsyaml.EVENT_ID.ALIAS:
      return e.anchorStart - 1;
    default:
      return undefined;
  }
}
