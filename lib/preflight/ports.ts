/** True when nothing listens on host:port (we can bind it). */
export function portFree(host: string, port: number): boolean {
  try {
    const l = Deno.listen({ hostname: host === "localhost" ? "127.0.0.1" : host, port });
    l.close();
    return true;
  } catch {
    return false;
  }
}

/** A port the OS considers free right now. */
export function allocatePort(host: string): number {
  const l = Deno.listen({ hostname: host === "localhost" ? "127.0.0.1" : host, port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** PID listening on a TCP port, from /proc (Linux), for "port in use by PID N" messages. */
export async function portOwner(port: number): Promise<number | undefined> {
  try {
    const inodes = new Set<string>();
    for (const f of ["/proc/net/tcp", "/proc/net/tcp6"]) {
      const text = await Deno.readTextFile(f).catch(() => "");
      for (const line of text.split("\n").slice(1)) {
        const cols = line.trim().split(/\s+/);
        if (cols.length < 10 || cols[3] !== "0A") continue; // 0A = LISTEN
        if (parseInt(cols[1].split(":")[1], 16) === port) inodes.add(cols[9]);
      }
    }
    if (inodes.size === 0) return undefined;
    for await (const e of Deno.readDir("/proc")) {
      if (!/^\d+$/.test(e.name)) continue;
      try {
        for await (const fd of Deno.readDir(`/proc/${e.name}/fd`)) {
          const link = await Deno.readLink(`/proc/${e.name}/fd/${fd.name}`).catch(() => "");
          const m = /^socket:\[(\d+)\]$/.exec(link);
          if (m && inodes.has(m[1])) return Number(e.name);
        }
      } catch {
        // Not ours to read.
      }
    }
  } catch {
    // Not Linux.
  }
  return undefined;
}
