import type { Db } from '../db/index.ts';

/** The NOTIFY channel the events trigger (migration 004) sends on; its payload is the request id. */
export const eventsChannel = 'refinery_events';

/**
 * Wakes the live streams of a request when events of it were written, by any Refinery process
 * (through PostgreSQL's LISTEN/NOTIFY; in-process with PGlite). The database stays the source:
 * a woken stream reads the events table.
 */
export class EventSignals {
  private readonly watchers = new Map<string, Set<() => void>>();
  private unlisten: (() => Promise<void>) | null = null;

  constructor(private readonly db: Db) {}

  async start(): Promise<void> {
    this.unlisten ??= await this.db.listen(eventsChannel, (requestId) => {
      for (const wake of this.watchers.get(requestId) ?? []) wake();
    });
  }

  async stop(): Promise<void> {
    await this.unlisten?.();
    this.unlisten = null;
  }

  /** Calls `wake` whenever events of `requestId` may have been written; returns the function that stops it. */
  watch(requestId: string, wake: () => void): () => void {
    let set = this.watchers.get(requestId);
    if (!set) this.watchers.set(requestId, (set = new Set()));
    set.add(wake);
    return () => {
      set.delete(wake);
      if (set.size === 0) this.watchers.delete(requestId);
    };
  }
}
