/**
 * A process's command line as mup compares it with a server's configuration file: a server an
 * operator started by hand from the configuration's directory (`cd …/conf; mongod -f
 * mongod-27017.conf`) is the cluster's own, so its relative `-f`/`--config` argument is made
 * absolute against the process's working directory (/proc/<pid>/cwd) before the comparison.
 */
import * as path from "node:path";

/** The option words whose value is a configuration file (mongod and mongos alike). */
const CONFIG_OPTIONS = ["-f", "--config"];

/** Whether `argv` names its configuration file by a relative path (so the cwd is needed). */
export function hasRelativeConfig(argv: string[]): boolean {
  return configValues(argv).some(({ value }) => !path.posix.isAbsolute(value));
}

/**
 * `argv` with each relative configuration file argument (`-f X`, `--config X`, `--config=X`)
 * resolved against `cwd`; as it is without a cwd. Other arguments are left as they are.
 */
export function withAbsoluteConfig(argv: string[], cwd: string | undefined): string[] {
  if (!cwd) return argv;
  const out = [...argv];
  for (const { index, value, prefix } of configValues(argv)) {
    if (!path.posix.isAbsolute(value)) out[index] = prefix + path.posix.resolve(cwd, value);
  }
  return out;
}

function configValues(argv: string[]): { index: number; value: string; prefix: string }[] {
  const out: { index: number; value: string; prefix: string }[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (CONFIG_OPTIONS.includes(argv[i]) && i + 1 < argv.length) {
      out.push({ index: i + 1, value: argv[i + 1], prefix: "" });
    } else if (argv[i].startsWith("--config=")) {
      out.push({ index: i, value: argv[i].slice("--config=".length), prefix: "--config=" });
    }
  }
  return out;
}

/**
 * The command line (arguments joined by spaces) in /proc/<pid>/cmdline's bytes `raw`, its
 * configuration file made absolute with `cwd()` (asked only when it is relative).
 */
export async function commandLineOf(
  raw: string,
  cwd: () => Promise<string | undefined>,
): Promise<string> {
  return (await absolute(raw.split("\0").filter(Boolean), cwd)).join(" ");
}

/** `argv` with its configuration argument made absolute, the cwd asked only when needed. */
async function absolute(
  argv: string[],
  cwd: () => Promise<string | undefined>,
): Promise<string[]> {
  return hasRelativeConfig(argv) ? withAbsoluteConfig(argv, await cwd()) : argv;
}

/**
 * Whether `argv` (a process's, whose working directory `cwd()` gives) names `arg` as one of its
 * arguments, or as its configuration file in any form (`-f rel`, `--config=…`, made absolute
 * against the cwd). The cwd is asked only when a configuration argument is relative. Returns
 * the command line as commandLineOf would, or undefined when it does not name it.
 */
export async function namingArg(
  argv: string[],
  arg: string,
  cwd: () => Promise<string | undefined>,
): Promise<string | undefined> {
  if (!argv.includes(arg) && !argv.some((a) => a.includes(path.posix.basename(arg)))) {
    return undefined;
  }
  const full = await absolute(argv, cwd);
  return argv.includes(arg) || full.includes(arg) || full.includes(`--config=${arg}`)
    ? full.join(" ")
    : undefined;
}
