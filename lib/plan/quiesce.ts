/**
 * The quiesce periods mup's stops ask for (the shutdown command's timeoutSecs, MongoDB 5.0+),
 * planned per stop as `quiesce_secs` (lifecycle_ops.ts stopOp; stop_process sends them).
 */

/**
 * How long a mongos stopped while other mongos go on routing (a rolling restart, a scale-in)
 * spends in its quiesce period (seconds): its hello answers ShutdownInProgress, so drivers
 * move to the other mongos, while the operations it runs finish (MongoDB 5.0+, the shutdown
 * command's timeoutSecs).
 */
export const MONGOS_QUIESCE_SECS = 2;

/**
 * The quiesce period of a replica set member stopped in a rolling restart (seconds): a
 * secondary's hello answers ShutdownInProgress meanwhile, so drivers stop reading from it while
 * its reads finish. MongoDB spends the shutdown command's timeoutSecs so on a secondary (5.0+),
 * a primary's after it stepped down; a plain stop's secondaries spend none.
 */
export const MEMBER_QUIESCE_SECS = 1;
