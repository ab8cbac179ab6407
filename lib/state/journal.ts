import { FILE_MODE } from "./atomic.ts";
/**
 * Append-only journal with group commit: concurrent appends share one write and one fsync, so
 * persisting costs the same per operation however large the plan is.
 */
export class Journal {
  private file?: Deno.FsFile;
  private pending: { line: string; done: () => void; fail: (e: unknown) => void }[] = [];
  private flushing = false;
  private readonly enc = new TextEncoder();

  constructor(readonly path: string) {}

  async open(): Promise<void> {
    this.file = await Deno.open(this.path, { append: true, create: true, mode: FILE_MODE });
    await Deno.chmod(this.path, FILE_MODE);
  }

  append(entry: unknown): Promise<void> {
    return new Promise((done, fail) => {
      this.pending.push({ line: JSON.stringify(entry) + "\n", done, fail });
      if (!this.flushing) this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      try {
        const bytes = this.enc.encode(batch.map((b) => b.line).join(""));
        let off = 0;
        while (off < bytes.length) off += await this.file!.write(bytes.subarray(off));
        await this.file!.syncData();
        for (const b of batch) b.done();
      } catch (e) {
        for (const b of batch) b.fail(e);
      }
    }
    this.flushing = false;
  }

  close(): void {
    this.file?.close();
    this.file = undefined;
  }

  /** Every complete line; a torn last line (crash mid-write) is ignored. */
  static async read(path: string): Promise<unknown[]> {
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch {
      return [];
    }
    const out: unknown[] = [];
    for (const line of text.split("\n")) {
      if (!line) continue;
      try {
        out.push(JSON.parse(line));
      } catch {
        break;
      }
    }
    return out;
  }
}
