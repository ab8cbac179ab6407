/**
 * The fixed shell scripts an SshExecutor runs on a host, the checks on their arguments, and the
 * parsers of their output. Each script is run as `sh -c SCRIPT mup ARG…`, every argument quoted.
 */

/**
 * Fixed scripts run as `sh -c SCRIPT mup ARG…`; their arguments arrive as "$1", "$2", … Each is
 * one line, so that a login shell that is not POSIX (csh) still passes it whole to sh.
 */
export const SCRIPTS = {
  read: `[ -e "$1" ] || exit 3; exec cat -- "$1"`,
  exists: `[ -e "$1" ] || [ -L "$1" ]`,
  sha256: `[ -f "$1" ] || exit 3; sha256sum -- "$1"`,
  // Temp file + rename in the target's directory: readers see the old file or the new one.
  // Directories made on the way are the owner's alone (umask 077), as LocalExecutor makes them:
  // with the login's usual 022 a host's secrets/ (keyfile, CA) was listable by all (tester45).
  write: `set -e; umask 077; t="$1.mup-tmp-$2"; trap 'rm -f -- "$t"' EXIT; ` +
    `mkdir -p -- "$(dirname -- "$1")"; cat > "$t"; chmod "$3" "$t"; mv -f -- "$t" "$1"; trap - EXIT`,
  // Streams one binary in, unless the host already has it with this checksum.
  install:
    `set -e; umask 077; if [ -f "$1" ] && [ "$(sha256sum -- "$1" | cut -d' ' -f1)" = "$3" ]; then ` +
    `cat > /dev/null; echo same; exit 0; fi; t="$1.mup-tmp-$2"; trap 'rm -f -- "$t"' EXIT; ` +
    `mkdir -p -- "$(dirname -- "$1")"; cat > "$t"; chmod 755 "$t"; mv -f -- "$t" "$1"; ` +
    `trap - EXIT; echo copied`,
  mkdir: `umask 077; mkdir -p -m "$2" -- "$1"`,
  remove: `rm -rf -- "$1"`,
  df: `d="$1"; while [ ! -e "$d" ] && [ "$d" != / ]; do case $d in */*) d=\${d%/*}; ` +
    `[ -n "$d" ] || d=/ ;; *) d=. ;; esac; done; df -Pk -- "$d"`,
  // ss when present, else the kernel's tables (hex ports, state 0A = LISTEN).
  listening: `if command -v ss >/dev/null 2>&1; then echo ss; ss -Hltn; else echo proc; ` +
    `cat /proc/net/tcp /proc/net/tcp6 2>/dev/null; fi`,
  // Alive and not a zombie; kill -0 where there is no /proc.
  alive: `if [ -r "/proc/$1/stat" ]; then s=$(cat "/proc/$1/stat" 2>/dev/null) || exit 1; ` +
    `s=\${s##*) }; case "$s" in Z*) exit 1;; esac; exit 0; fi; kill -0 "$1" 2>/dev/null`,
  signal: `kill -s "$2" "$1" 2>/dev/null; exit 0`,
  // The process listening on TCP port $1: its socket's inode from the kernel's tables (state 0A
  // = LISTEN), then the /proc/<pid>/fd link to it; prints the pid, then its command line as
  // /proc has it (NUL-separated). Exit 3: none found (or not ours to read). One find (GNU, with
  // -lname) looks at every link: a readlink per descriptor, forked by the shell, took 7 s on a
  // host of 1,500 (tester45), and a database host has tens of thousands. Without -lname
  // (busybox), the loop.
  holder: `h=$(printf ':%04X' "$1"); for i in $(awk -v h="$h" '$4 == "0A" && ` +
    `substr($2, length($2) - 4) == h { print $10 }' /proc/net/tcp /proc/net/tcp6 2>/dev/null); ` +
    `do if find /proc/self/fd -maxdepth 0 -lname x >/dev/null 2>&1; then ` +
    `f=$(find /proc/[0-9]*/fd -lname "socket:\\[$i\\]" 2>/dev/null | head -n 1); else f=; ` +
    `for g in /proc/[0-9]*/fd/*; do if [ "$(readlink "$g" 2>/dev/null)" = "socket:[$i]" ]; ` +
    `then f=$g; break; fi; done; fi; if [ -n "$f" ]; then p=\${f#/proc/}; p=\${p%%/*}; ` +
    `echo "$p"; cat "/proc/$p/cmdline"; exit 0; fi; done; exit 3`,
  // The working directory of process $1. Exit 3: gone, or not ours to read.
  cwd: `readlink "/proc/$1/cwd" 2>/dev/null || exit 3`,
  // Live processes whose command line holds $2 (the base name of $1) in an argument: GNU grep
  // reads each command line as NUL-separated lines (-z) and names the files with a match; this
  // shell (its own argv holds $1) and grep (gone by the loop) are left out, and so are zombies.
  // Per process: its pid, a newline, its working directory, a newline, its command line as /proc
  // has it (NUL-separated), then an RS byte (036). ssh.ts keeps those that name $1.
  with_arg: `for f in $(grep -lsFz -- "$2" /proc/[0-9]*/cmdline 2>/dev/null); do ` +
    `p=\${f#/proc/}; p=\${p%%/*}; [ "$p" = "$$" ] && continue; ` +
    `s=$(cat "/proc/$p/stat" 2>/dev/null) || continue; s=\${s##*) }; case "$s" in Z*) continue;; esac; ` +
    `c=$(readlink "/proc/$p/cwd" 2>/dev/null); printf '%s\\n%s\\n' "$p" "$c"; ` +
    `cat "/proc/$p/cmdline" 2>/dev/null; ` +
    `printf '\\036'; done; exit 0`,
  uname: `uname -sm`,
};

/** A temp file's suffix, unique enough for concurrent writes to one path. */
export function randomSuffix(): string {
  return crypto.randomUUID().slice(0, 8);
}

/** A pid as a script argument: a positive integer, else throws. */
export function checkedPid(pid: number): number {
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`invalid pid ${pid}`);
  return pid;
}

/**
 * TCP ports in LISTEN state from the `listening` script's output: `ss -Hltn` lines
 * (`LISTEN 0 128 127.0.0.1:27017 0.0.0.0:*`) or /proc/net/tcp rows (hex port, state 0A).
 */
export function listeningPorts(out: string): Set<number> {
  const [kind, ...lines] = out.split("\n");
  const ports = new Set<number>();
  for (const line of lines) {
    const cols = line.trim().split(/\s+/);
    if (kind.trim() === "ss") {
      const local = cols[3];
      if (!local) continue;
      const port = Number(local.slice(local.lastIndexOf(":") + 1));
      if (Number.isInteger(port)) ports.add(port);
    } else if (cols.length > 3 && cols[3] === "0A") {
      ports.add(parseInt(cols[1].split(":")[1], 16));
    }
  }
  return ports;
}
