import type { ApplyEvent } from "../apply/events.ts";
import { formatDuration } from "../util/format.ts";
import { PlainRenderer } from "./apply_plain.ts";

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/** The plain lines, plus a live status line (running operations, progress) kept at the bottom. */
export class TtyRenderer {
  private readonly plain: PlainRenderer;
  private running = new Map<string, { t: number; note?: string }>();
  private frame = 0;
  private timer?: ReturnType<typeof setInterval>;
  private readonly enc = new TextEncoder();

  constructor() {
    this.plain = new PlainRenderer((line) => {
      this.clear();
      console.log(line);
      this.draw();
    });
  }

  handle = (e: ApplyEvent): void => {
    if (e.type === "apply_start") this.timer = setInterval(() => this.draw(), 100);
    if (e.type === "op_start") this.running.set(e.id, { t: performance.now() });
    if (e.type === "op_progress") {
      const r = this.running.get(e.id);
      if (r) r.note = `${Math.round(e.fraction * 100)}% ${e.note}`;
    }
    if (e.type === "op_done" || e.type === "op_failed" || e.type === "op_skipped") {
      this.running.delete(e.id);
    }
    if (e.type === "apply_done") {
      clearInterval(this.timer);
      this.running.clear();
      this.clear();
    }
    this.plain.handle(e);
  };

  private clear(): void {
    Deno.stdout.writeSync(this.enc.encode("\r\x1b[K"));
  }

  private draw(): void {
    if (this.running.size === 0) return;
    const cols = Deno.consoleSize?.().columns ?? 100;
    const items = [...this.running.entries()].map(([id, r]) =>
      `${id} ${r.note ?? formatDuration(performance.now() - r.t)}`
    );
    const line = `${FRAMES[this.frame++ % FRAMES.length]} ${this.running.size} running: ${
      items.join(", ")
    }`;
    Deno.stdout.writeSync(this.enc.encode("\r\x1b[K" + line.slice(0, cols - 1)));
  }
}
