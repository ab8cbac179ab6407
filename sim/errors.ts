/** A command failure with MongoDB's code and codeName. */
export class CommandError extends Error {
  constructor(
    message: string,
    readonly code: number,
    readonly codeName: string,
    /** Fields the error reply carries besides errmsg, code and codeName. */
    readonly info?: Record<string, unknown>,
  ) {
    super(message);
  }
}

export const errors = {
  notPrimary: () => new CommandError("not primary", 10107, "NotWritablePrimary"),
  notPrimaryNoSecondaryOk: () =>
    new CommandError("not primary and secondaryOk=false", 13435, "NotPrimaryNoSecondaryOk"),
  notYetInitialized: () =>
    new CommandError("no replset config has been received", 94, "NotYetInitialized"),
  noReplication: () =>
    new CommandError(
      "This node was not started with replication enabled.",
      76,
      "NoReplicationEnabled",
    ),
  alreadyInitialized: () => new CommandError("already initialized", 23, "AlreadyInitialized"),
  badValue: (m: string) => new CommandError(m, 2, "BadValue"),
  invalidConfig: (m: string) => new CommandError(m, 93, "InvalidReplicaSetConfig"),
  nodeNotFound: (m: string) => new CommandError(m, 74, "NodeNotFound"),
  commandNotFound: (name: string) =>
    new CommandError(`no such command: '${name}'`, 59, "CommandNotFound"),
  unauthorized: (m: string) => new CommandError(m, 13, "Unauthorized"),
  illegalOperation: (m: string) => new CommandError(m, 20, "IllegalOperation"),
  operationFailed: (m: string) => new CommandError(m, 96, "OperationFailed"),
  exceededTimeLimit: (m: string) => new CommandError(m, 262, "ExceededTimeLimit"),
  /** A mongos in its quiesce period answers hello so (ShutdownInProgressQuiesceInfo). */
  shutdownInProgress: (remainingQuiesceTimeMillis?: number) =>
    new CommandError(
      "The server is in quiesce mode and will shut down",
      91,
      "ShutdownInProgress",
      remainingQuiesceTimeMillis === undefined ? undefined : { remainingQuiesceTimeMillis },
    ),
};

/** A refused option; `message` is what the server prints before exiting with code 2. */
export class OptionsError extends Error {}
