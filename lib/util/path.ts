import * as path from "node:path";

/** The storage root: `$MUP_HOME/storage`, or `~/.mup/storage`. */
export function mupHome(): string {
  const home = Deno.env.get("MUP_HOME");
  if (home) return path.resolve(home);
  return path.join(Deno.env.get("HOME") ?? "/tmp", ".mup");
}

export function storageRoot(): string {
  return path.join(mupHome(), "storage");
}

export function cacheRoot(): string {
  return path.join(mupHome(), "cache");
}
