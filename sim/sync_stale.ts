/**
 * Sources too stale to follow. A member whose last oplog entry a source no longer holds (its
 * oplog truncated past it, or begun after it by an initial sync) passes that source over for
 * a minute and tries the others, as MongoDB's OplogFetcher and SyncSourceResolver do; only when
 * none holds the entry does it go RECOVERING ("Too stale to catch up", 21799), and it keeps
 * looking, back to SECONDARY once one does (21800). repl/oplog_fetcher.cpp,
 * repl/sync_source_resolver.cpp (kTooStaleDenylistDuration), repl/bgsync.cpp.
 */

/** kTooStaleDenylistDuration: how long a too-stale source is passed over (ms). */
export const TOO_STALE_DENYLIST_MS = 60_000;

export class StaleSources {
  private readonly until = new Map<string, number>();

  /** Whether `host` ("host:port") is passed over now. */
  denied(host: string): boolean {
    return (this.until.get(host) ?? 0) > Date.now();
  }

  /** Passes `host` over for TOO_STALE_DENYLIST_MS. */
  deny(host: string): void {
    this.until.set(host, Date.now() + TOO_STALE_DENYLIST_MS);
  }
}
