import type { Queryable } from '../../db/index.ts';
import { backoffSql } from '../../batches/index.ts';

/**
 * Failed attempts wait before the next one: exponential backoff with jitter, capped
 * (`webhookBackoff`), or the receiver's `Retry-After` when it asked for longer. The claim is released.
 */
export async function scheduleDeliveryRetries(
  db: Queryable,
  p: { failures: ReadonlyArray<{ eventId: string; error: string; retryAfterMs: number | null }>; now: Date; baseMs: number; capMs: number },
): Promise<void> {
  if (p.failures.length === 0) return;
  await db.query(
    `
update webhook_deliveries d set
  next_attempt_at = greatest(${backoffSql('$2::timestamptz', '$3', '$4')},
    $2::timestamptz + make_interval(secs => coalesce(f.retry_after_ms, 0) / 1000.0)),
  claimed_until = null,
  last_error = f.error
from unnest($1::bigint[], $5::text[], $6::int[]) as f(event_id, error, retry_after_ms)
where d.event_id = f.event_id and d.delivered_at is null
`,
    [
      p.failures.map((f) => f.eventId),
      p.now.toISOString(),
      p.baseMs,
      p.capMs,
      p.failures.map((f) => f.error.slice(0, 1000)),
      p.failures.map((f) => f.retryAfterMs),
    ],
  );
}
