import type { ApplyEvent } from "../apply/events.ts";
import { formatDuration } from "../util/format.ts";
import { PlainRenderer } from "./apply_plain.ts";

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/**
 * The live status line, at most `cols - 1` characters: the spinner, the count, then as many
 * whole items as fit and "+N more" for the rest, so that no operation name is cut mid-word; a
 * first item too long to fit shows its first whole words and "…".
 */
export function statusLine(frame: string, items: string[], cols: number): string {
  const head = `${frame} ${items.length} running: `;
  const max = cols - 1;
  let line = head;
  for (const [i, item] of items.entries()) {
    const sep = i === 0 ? "" : ", ";
    const rest = items.length - i - 1;
    const more = rest > 0 ? `, +${rest} more` : "";
    if ((line + sep + item + more).length <= max) {
      line += sep + item;
      continue;
    }
    if (i === 0) {
      const words = firstWords(item, max - line.length - more.length);
      return words ? line + words + more : `${frame} ${items.length} running`.slice(0, max);
    }
    const tail = `, +${items.length - i} more`;
    return (line + tail).length <= max ? line + tail : line.trimEnd();
  }
  return line;
}

/**
 * The whole words of `item` that fit in `room` characters with "…" after them, for a first
 * operation too long to show whole: "+1 more" alone would name none of them (tester80).
 */
function firstWords(item: string, room: number): string {
  let shown = "";
  for (const word of item.split(" ")) {
    const next = shown ? `${shown} ${word}` : word;
    if (next.length + 1 > room) break;
    shown = next;
  }
  return shown ? `${shown}…` : "";
}

/**
 * The plain lines, plus a live status line (running operations, progress) kept at the bottom.
 * `hold` stops drawing (and keeps the lines of operations finishing meanwhile) while the user
 * answers a question, such as the safety-check menu.
 */
export class TtyRenderer {
  private readonly plain: PlainRenderer;
  private running = new Map<string, { t: number; note?: string }>();
  private names = new Map<string, string>();
  private frame = 0;
  private timer?: ReturnType<typeof setInterval>;
  private held?: string[];
  private readonly enc = new TextEncoder();

  constructor() {
    this.plain = new PlainRenderer((line) => {
      if (this.held) {
        this.held.push(line);
        return;
      }
      this.clear();
      console.log(line);
      this.draw();
    });
  }

  handle = (e: ApplyEvent): void => {
    if (e.type === "apply_start") {
      // Running operations are named as the plan describes them, as their lines are: an ID
      // (stop-mongos-localhost-29017) is the plan's, not the reader's (tester53).
      this.names = new Map(
        e.plan.phases.flatMap((ph) => ph.operations).map((o) => [
          o.id,
          o.description,
        ]),
      );
      clearInterval(this.timer);
      this.timer = setInterval(() => this.draw(), 100);
    }
    if (e.type === "op_start") this.running.set(e.id, { t: performance.now() });
    if (e.type === "op_progress") {
      const r = this.running.get(e.id);
      if (r) r.note = `${Math.round(e.fraction * 100)}% ${e.note}`;
    }
    if (
      e.type === "op_done" || e.type === "op_failed" || e.type === "op_skipped" ||
      e.type === "op_stopped_waiting"
    ) {
      this.running.delete(e.id);
    }
    if (e.type === "apply_done") this.stop();
    this.plain.handle(e);
  };

  /**
   * A line of mup's own (an interrupt notice) to stderr: the status line is cleared first and
   * drawn again below it, so that no spinner is left above or after it.
   */
  note(line: string): void {
    this.clear();
    console.error(line);
    this.draw();
  }

  /**
   * Stops the status line for good and clears it: nothing is drawn after this, so the lines
   * printed next (the last ones, e.g. when mup stops at once) are not followed by a spinner.
   */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.running.clear();
    this.clear();
  }

  /** Runs `ask` with the status line stopped and cleared; lines printed meanwhile follow it. */
  async hold<T>(ask: () => Promise<T>): Promise<T> {
    this.held ??= [];
    this.clear();
    try {
      return await ask();
    } finally {
      const lines = this.held ?? [];
      this.held = undefined;
      for (const l of lines) console.log(l);
      this.draw();
    }
  }

  private clear(): void {
    Deno.stdout.writeSync(this.enc.encode("\r\x1b[K"));
  }

  private draw(): void {
    if (this.running.size === 0 || this.held) return;
    // A terminal whose size is unset reports 0 columns: drawn as 100 wide, not as nothing.
    const cols = Deno.consoleSize?.().columns || 100;
    const items = [...this.running.entries()].map(([id, r]) =>
      `${this.names.get(id) ?? id} ${r.note ?? formatDuration(performance.now() - r.t)}`
    );
    const line = statusLine(FRAMES[this.frame++ % FRAMES.length], items, cols);
    Deno.stdout.writeSync(this.enc.encode("\r\x1b[K" + line));
  }
}
