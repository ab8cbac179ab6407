/** Where in a user's file a problem sits. Line and column are 1-based. */
export interface SourceLocation {
  file: string;
  line?: number;
  column?: number;
  /** Dotted field path, e.g. `mongod_servers[2].port`. */
  path?: string;
}

/** What a MupError carries besides its message. */
export interface MupErrorOptions {
  location?: SourceLocation;
  hint?: string;
  exitCode?: number;
  /**
   * Machine-readable facts for the `--json` error document (see errorDocument): e.g. `checks`
   * (the failing checks), `operation` (the failing operation), `state_id`, `plan_id`, `issues`.
   */
  details?: Record<string, unknown>;
}

/**
 * An error meant for the user: it is printed as its message (plus location and fix), never as a
 * stack trace. Anything else reaching the CLI's top level is a bug and is reported as one.
 */
export class MupError extends Error {
  constructor(message: string, readonly options: MupErrorOptions = {}) {
    super(message);
    this.name = "MupError";
  }

  get exitCode(): number {
    return this.options.exitCode ?? 1;
  }
}

/**
 * The one JSON error document every command prints under `--json` when it fails: one line on
 * standard output, `{"type":"error","error":…,"hint":…,…details}`. Under a command that streams
 * NDJSON events (apply, resume, deploy) it is the last line; events carry an `event` key, the
 * error document `type: "error"`.
 */
export interface ErrorDocument {
  type: "error";
  error: string;
  hint?: string;
  [detail: string]: unknown;
}

/** The error document of any thrown value; `bug` marks errors that are not MupErrors. */
export function errorDocument(e: unknown): ErrorDocument {
  if (e instanceof MupError) {
    return {
      type: "error",
      error: e.message,
      ...(e.options.hint ? { hint: e.options.hint } : {}),
      ...(e.options.location ? { location: e.options.location } : {}),
      ...e.options.details,
    };
  }
  return {
    type: "error",
    error: (e as Error)?.message ?? String(e),
    hint:
      "this is a bug in mup; please report it with the command you ran (MUP_DEBUG=1 for details)",
    bug: true,
  };
}
