/**
 * When an item goes back to `pending` after a failed attempt, it waits
 * min(cap, base · 2^(attempts−1)), scaled by a random factor in [0.5, 1) so retries spread out.
 */
export const retryBackoff = { baseMs: 5_000, capMs: 10 * 60_000 } as const;

/** SQL for the moment an item of `attempts` attempts may be leased again; `$now`, `$base`, `$cap` are placeholders. */
export function backoffSql(now: string, base: string, cap: string): string {
  return `${now} + make_interval(secs => least(${cap}::double precision, ${base}::double precision * power(2, greatest(attempts - 1, 0))) / 1000.0 * (0.5 + random() / 2))`;
}
