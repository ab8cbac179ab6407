/**
 * The name of the user mup runs as, for lock records (`who`): $USER or $LOGNAME, else the
 * login name /etc/passwd gives this process's uid (cron, systemd and containers often set
 * neither variable), else `uid <n>`. Never throws.
 */
export function userName(): string {
  const env = Deno.env.get("USER") || Deno.env.get("LOGNAME");
  if (env) return env;
  const uid = Deno.uid();
  if (uid === null) return "unknown";
  try {
    for (const line of Deno.readTextFileSync("/etc/passwd").split("\n")) {
      const [name, , id] = line.split(":");
      if (id === String(uid) && name) return name;
    }
  } catch {
    // no /etc/passwd to read: the uid says who it is
  }
  return `uid ${uid}`;
}
