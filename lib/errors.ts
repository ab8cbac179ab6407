/** Where in a user's file a problem sits. Line and column are 1-based. */
export interface SourceLocation {
  file: string;
  line?: number;
  column?: number;
  /** Dotted field path, e.g. `mongod_servers[2].port`. */
  path?: string;
}

/**
 * An error meant for the user: it is printed as its message (plus location and fix), never as a
 * stack trace. Anything else reaching the CLI's top level is a bug and is reported as one.
 */
export class MupError extends Error {
  constructor(
    message: string,
    readonly options: { location?: SourceLocation; hint?: string; exitCode?: number } = {},
  ) {
    super(message);
    this.name = "MupError";
  }

  get exitCode(): number {
    return this.options.exitCode ?? 1;
  }
}
