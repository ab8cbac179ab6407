/** Result of a command run on a host. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * How operations touch a host. Commands are argv arrays, never shell strings, so nothing from a
 * topology is ever interpreted by a shell; an SSH executor quotes each argument itself.
 */
export interface Executor {
  readonly host: string;
  run(
    argv: string[],
    options?: { timeoutMs?: number; env?: Record<string, string> },
  ): Promise<RunResult>;
  writeFile(path: string, data: Uint8Array | string, mode?: number): Promise<void>;
  /** undefined when the file does not exist. */
  readFile(path: string): Promise<Uint8Array | undefined>;
  /** sha256 of a file on the host (computed there), undefined when it does not exist. */
  sha256(path: string): Promise<string | undefined>;
  mkdir(path: string, mode?: number): Promise<void>;
  exists(path: string): Promise<boolean>;
  remove(path: string): Promise<void>;
  /** Copies a local directory's files to the host (the install of binaries). */
  upload(localDir: string, remoteDir: string, files?: string[]): Promise<void>;
  freeDiskMb(path: string): Promise<number>;
  portFree(port: number): Promise<boolean>;
  /** The process listening on a port (PID and command), where the host lets us see it. */
  portHolder?(port: number): Promise<{ pid: number; command?: string } | undefined>;
  /** A connection whose local end is the port, when nothing listens there (where visible). */
  portConnection?(port: number): Promise<string | undefined>;
  /** The TCP addresses a process listens on ("127.0.0.2:27017", "[::1]:27017"), where visible. */
  listening?(pid: number): Promise<string[]>;
  /**
   * Live processes (zombies excluded) one of whose arguments is exactly `arg`, or whose
   * configuration argument names it (`-f`/`--config` relative to the process's working
   * directory, `--config=`): the servers started with that configuration, listening or not yet
   * (where visible). `command` has the configuration argument made absolute.
   */
  processesWith?(arg: string): Promise<{ pid: number; command: string }[]>;
  processAlive(pid: number): Promise<boolean>;
  /** A process's working directory (/proc/<pid>/cwd), where visible; undefined otherwise. */
  processCwd?(pid: number): Promise<string | undefined>;
  signal(pid: number, signal: Deno.Signal): Promise<void>;
  /**
   * Reaches the host (opening its connection if it has one) and measures one command's round trip
   * in ms. Throws an error naming the host and the fix when it cannot be reached.
   */
  probe?(): Promise<{ rttMs: number; connectMs: number }>;
  /** TCP ports something listens on, on any address of the host (one look for many ports). */
  listeningPorts?(): Promise<Set<number>>;
  /** The host's OS and machine as `uname -sm` names them, e.g. { os: "Linux", arch: "x86_64" }. */
  platform?(): Promise<{ os: string; arch: string }>;
  /**
   * Opens (once) a local port that reaches `target:port` from the host itself (an SSH port
   * forward); returns the local port on 127.0.0.1. Hosts reached locally have none.
   */
  forward?(target: string, port: number): Promise<number>;
  /** Releases what the executor holds open (an SSH master connection). Never throws. */
  close?(): Promise<void>;
}

/** Gives the executor for a host; one per host, shared by all operations. */
export interface ExecutorFactory {
  forHost(host: string): Executor;
}
