/**
 * The quiesce period of a mongos, or of a replica set secondary (a primary once it handed off),
 * before it shuts down (MongoDB 5.0+: MongosTopologyCoordinator::enterQuiesceModeAndWait,
 * ReplicationCoordinatorImpl::enterQuiesceModeIfSecondary): for the shutdown command's
 * timeoutSecs, hello answers ShutdownInProgress (91) with the time left, a waiting one at once
 * (the topologyVersion moves on), so that drivers go to other servers; every other command, on
 * any connection, runs as before.
 */
import type { Log } from "./log.ts";
import type { TopologyVersion } from "./topology_version.ts";

export class QuiescePeriod {
  /** When the period ends (ms since the epoch), once it began. */
  private end?: number;
  private running?: Promise<void>;

  constructor(private readonly topology: TopologyVersion, private readonly log: Log) {}

  /** Milliseconds left of the period, or undefined before it began. */
  left(): number | undefined {
    return this.end === undefined ? undefined : Math.max(0, this.end - Date.now());
  }

  /**
   * Begins a period of `ms` and resolves when it ends. A later shutdown command waits for the
   * first one's period (only the first one counts, as mongod's shutdownAlreadyInProgress).
   */
  enter(ms: number, mongos: boolean): Promise<void> {
    if (this.running || !(ms > 0)) return this.running ?? Promise.resolve();
    this.end = Date.now() + ms;
    this.topology.bump();
    // Each server's own log lines (mongos_topology_coordinator.cpp, mongod_main.cpp).
    if (mongos) {
      this.log.info("SHARDING", 4695701, "main", "Entering quiesce mode for mongos shutdown", {
        quiesceTime: ms,
      });
    } else {
      this.log.info("REPL", 4695102, "main", "Entering quiesce mode for shutdown", {
        quiesceTimeMillis: ms,
      });
    }
    return this.running = new Promise<void>((r) => setTimeout(r, ms)).then(() =>
      mongos
        ? this.log.info("SHARDING", 4695702, "main", "Exiting quiesce mode for mongos shutdown")
        : this.log.info("REPL", 4695103, "main", "Exiting quiesce mode for shutdown")
    );
  }
}
