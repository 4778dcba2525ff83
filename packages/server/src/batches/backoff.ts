/**
 * When an item goes back to `pending` after a failed attempt, it waits
 * min(cap, base · 2^(a−1)), with a the attempt of its batch, scaled by a random factor in [0.5, 1)
 * drawn once per batch: retries of different batches spread out, and a batch's items come back together.
 */
export const retryBackoff = { baseMs: 5_000, capMs: 10 * 60_000 } as const;

/** SQL for the moment a row of `attempts` attempts is tried again, its own random factor drawn; `$now`, `$base`, `$cap` are placeholders. */
export function backoffSql(now: string, base: string, cap: string): string {
  return `${now} + make_interval(secs => least(${cap}::double precision, ${base}::double precision * power(2, greatest(attempts - 1, 0))) / 1000.0 * (0.5 + random() / 2))`;
}

/**
 * SQL for the moment the retried items of batch row `b` (a `batches` alias) may be leased again.
 * The factor is drawn from the batch id rather than by `random()`: every statement that retries
 * items of one batch (an import's retryable answers and its missing items are two) gives them the
 * same moment, and one statement retrying many batches (the lease-expiry service's) draws once for each
 * (docs/internals/0018-retries-come-back-whole.md).
 */
export function batchBackoffSql(now: string, base: string, cap: string, b: string): string {
  const draw = `((hashtextextended(${b}.id::text, 0) & 4503599627370495)::double precision / 4503599627370496)`; // the hash's low 52 bits, in [0, 1)
  return `${now} + make_interval(secs => least(${cap}::double precision, ${base}::double precision * power(2, greatest(${b}.attempt - 1, 0))) / 1000.0 * (0.5 + ${draw} / 2))`;
}

/** SQL for `available_at` (a timestamptz) in whole epoch milliseconds, rounded up: a wake-up at that moment finds the items leasable. */
export const epochMsSql = (t: string) => `ceil(extract(epoch from ${t}) * 1000)::bigint`;
