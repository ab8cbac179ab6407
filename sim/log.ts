/** mongod-style structured JSON log lines (4.4+), to a file or stdout. */
export class Log {
  private file?: Deno.FsFile;
  private readonly enc = new TextEncoder();

  open(path: string | undefined, append: boolean): void {
    if (!path) return;
    this.file = Deno.openSync(path, { write: true, create: true, append, truncate: !append });
  }

  write(
    s: "I" | "W" | "E" | "F",
    c: string,
    id: number,
    ctx: string,
    msg: string,
    attr?: Record<string, unknown>,
  ): void {
    const line = JSON.stringify({
      t: { $date: new Date().toISOString().replace("Z", "+00:00") },
      s,
      c,
      id,
      ctx,
      msg,
      ...(attr ? { attr } : {}),
    }) + "\n";
    const bytes = this.enc.encode(line);
    try {
      if (this.file) this.file.writeSync(bytes);
      else if (!Deno.env.get("MUP_SIM_FORKED")) Deno.stdout.writeSync(bytes);
    } catch {
      // Logging must never take the server down.
    }
  }

  info(c: string, id: number, ctx: string, msg: string, attr?: Record<string, unknown>): void {
    this.write("I", c, id, ctx, msg, attr);
  }
}
