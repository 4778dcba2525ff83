import type { Clock } from '../clock.ts';

/**
 * Callers this process has just looked up (API keys by hash, signing robots by id), each kept for
 * `ttlMs`: every requester call checked its key, and every robot call read the robot and its
 * secrets, with a query of its own: a round trip before any work
 * (docs/internals/0008-recently-checked-callers.md). Only what was found is kept. A change made
 * through another process (a key revoked, a secret ended, a robot paused) reaches this one within
 * `ttlMs`; what this process changes itself it forgets at once.
 */
export class Recent<V> {
  private readonly entries = new Map<string, { value: V; until: number }>();

  constructor(
    private readonly clock: Clock,
    private readonly ttlMs = recentDefaults.ttlMs,
    private readonly maxEntries = recentDefaults.maxEntries,
  ) {}

  get(key: string): V | null {
    const entry = this.entries.get(key);
    if (!entry) return null;
    if (entry.until > this.clock.now().getTime()) return entry.value;
    this.entries.delete(key);
    return null;
  }

  set(key: string, value: V): void {
    this.entries.delete(key);
    // Insertion order is age: past the bound, the oldest goes.
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { value, until: this.clock.now().getTime() + this.ttlMs });
  }

  forget(key: string): void {
    this.entries.delete(key);
  }
}

export const recentDefaults = {
  /** How long what was looked up is taken as it was without asking the database again. */
  ttlMs: 5_000,
  /** Entries kept at most. */
  maxEntries: 10_000,
};
