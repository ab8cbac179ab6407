import type { Executor } from "../executor/executor.ts";

/**
 * Prints `<index> .` for each argument that is a listable directory, then `<index> <entry>` for
 * each of its entries (`ls -A`). Paths arrive as arguments ("$@"), never inside the script.
 */
const LIST_SCRIPT = `i=0
for d in "$@"; do
  if [ -d "$d" ] && out=$(ls -A -- "$d" 2>/dev/null); then
    echo "$i ."
    [ -n "$out" ] && printf '%s\\n' "$out" | sed "s/^/$i /"
  fi
  i=$((i+1))
done`;

/**
 * The entries of each of `dirs` on one host, in one command (over SSH: one round trip, not one
 * per directory): `dir` → its entry names, or undefined when it cannot be listed (absent, not
 * a directory, unreadable). Throws when the host cannot run the command (connectivity's check
 * reports that). Entry names holding a newline are split (no MongoDB or mup file has one).
 */
export async function listDirs(
  ex: Executor,
  dirs: string[],
): Promise<Map<string, string[] | undefined>> {
  const out = new Map<string, string[] | undefined>(dirs.map((d) => [d, undefined]));
  if (!dirs.length) return out;
  const r = await ex.run(["sh", "-c", LIST_SCRIPT, "sh", ...dirs], { timeoutMs: 10_000 });
  if (r.code !== 0) throw new Error(`listing directories failed: ${r.stderr.trim()}`);
  for (const line of r.stdout.split("\n")) {
    const m = /^(\d+) (.*)$/.exec(line);
    const dir = m ? dirs[Number(m[1])] : undefined;
    if (!m || dir === undefined) continue;
    if (m[2] === ".") out.set(dir, out.get(dir) ?? []);
    else out.get(dir)?.push(m[2]);
  }
  return out;
}
