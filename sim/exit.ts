/** mongod's exit codes (src/mongo/util/exit_code.h) and its way of printing startup errors. */
export const EXIT_BADOPTIONS = 2;
export const EXIT_ABRUPT = 14;
export const EXIT_NET_ERROR = 48;
export const EXIT_NEED_UPGRADE = 62;
export const EXIT_UNCAUGHT = 100;

export function stderr(s: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(s + "\n"));
}
