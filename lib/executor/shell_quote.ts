/**
 * Quoting for the POSIX shell that sshd runs a remote command with (`$SHELL -c "<string>"`).
 * ssh joins its arguments into one string, so every argument must be quoted here; nothing from a
 * topology may be interpreted by a shell on any host.
 */

/** Characters that need no quoting in any POSIX shell word (no `=`: `A=b` first is an assignment). */
const SAFE = /^[A-Za-z0-9_@%+:,./-]+$/;

/**
 * One argument as a POSIX shell word that the shell turns back into exactly `arg`: unchanged when
 * it only holds safe characters, otherwise inside single quotes, with each `'` written as `'\''`.
 * Throws on a NUL byte, which no argv can carry.
 */
export function shellQuote(arg: string): string {
  if (arg.includes("\0")) throw new Error("an argument cannot contain a NUL byte");
  if (arg !== "" && SAFE.test(arg)) return arg;
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** An argv as one command line for `sh -c`: each argument quoted, joined by spaces. */
export function shellJoin(argv: string[]): string {
  return argv.map(shellQuote).join(" ");
}
