import type { Clock } from '../clock.ts';
import type { ApiKeyRow } from './queries/insertApiKey.ts';

/**
 * Valid API keys this process has just looked up, by hash, for `ttlMs`: every requester call
 * checked its key with a query of its own (a round trip of 1.2 ms p50 on the dispatch path,
 * bench/RESULTS.md). Only valid keys are kept; an unknown key is looked up every time. A key
 * revoked in the database goes on working here for at most `ttlMs`.
 */
export class RecentKeys {
  private readonly keys = new Map<string, { row: ApiKeyRow; until: number }>();

  constructor(
    private readonly clock: Clock,
    private readonly ttlMs = recentKeyDefaults.ttlMs,
    private readonly maxKeys = recentKeyDefaults.maxKeys,
  ) {}

  get(hash: string): ApiKeyRow | null {
    const entry = this.keys.get(hash);
    if (!entry) return null;
    if (entry.until > this.clock.now().getTime()) return entry.row;
    this.keys.delete(hash);
    return null;
  }

  set(hash: string, row: ApiKeyRow): void {
    this.keys.delete(hash);
    // Insertion order is age: past the bound, the oldest goes.
    if (this.keys.size >= this.maxKeys) this.keys.delete(this.keys.keys().next().value!);
    this.keys.set(hash, { row, until: this.clock.now().getTime() + this.ttlMs });
  }
}

export const recentKeyDefaults = {
  /** How long a looked-up key is taken as valid without asking the database again. */
  ttlMs: 5_000,
  /** Keys kept at most. */
  maxKeys: 10_000,
};
