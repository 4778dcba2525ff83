import type { ItemErrorCode } from '@refinery/protocol';
import type { Queryable } from '../../db/index.ts';
import type { Retry } from '../../work/index.ts';
import { batchBackoffSql, epochMsSql, retryBackoff } from '../backoff.ts';
import { requestIdsOf, retriesOf, type ItemMove, type RetryMove } from './itemMoves.ts';

/**
 * The items of `batchIds` (batches that failed or expired) still `leased` go back to `pending`
 * while `retryable` and attempts remain, otherwise to `failed`, with the error code and message.
 * A batch's retried items all wait the same backoff, so they come back together. Returns the
 * requests touched, the retries (robot and moment) to wake for, and how many items went where.
 */
export async function retryOrFailItems(
  db: Queryable,
  p: { batchIds: readonly string[]; code: ItemErrorCode; message: string; retryable: boolean; now: Date },
): Promise<{ requestIds: string[]; retries: Retry[]; moves: ItemMove[] }> {
  if (p.batchIds.length === 0) return { requestIds: [], retries: [], moves: [] };
  const { rows } = await db.query<RetryMove>(
    `
with moved as (
update items i set
  status = case when $3::boolean and x.attempts < r.max_attempts then 'pending' else 'failed' end,
  batch_id = b.id,
  attempts = x.attempts,
  available_at = ${batchBackoffSql('$5::timestamptz', '$6', '$7', 'b')},
  error_code = $2::text,
  error_message = case when $3::boolean and x.attempts < r.max_attempts
    then $4::text || ' (attempt ' || x.attempts || ' of ' || r.max_attempts || '; will retry)'
    else $4::text || ' (attempt ' || x.attempts || ' of ' || r.max_attempts || ')' end,
  updated_at = $5::timestamptz
from batches b cross join lateral batch_items(b.id) x, robots r
where b.id = any($1::uuid[]) and i.id = x.id and i.status = x.row_status and x.status = 'leased' and not moves_with_batch(x.status, b.status) and r.id = i.robot_id
returning i.request_id, i.robot_id, i.status, i.available_at
)
select request_id::text, robot_id::text, status, case when status = 'pending' then ${epochMsSql('available_at')} end as at, count(*)::int as n
from moved group by 1, 2, 3, 4
`,
    [p.batchIds, p.code, p.retryable, p.message, p.now.toISOString(), retryBackoff.baseMs, retryBackoff.capMs],
  );
  return { requestIds: requestIdsOf(rows), retries: retriesOf(rows), moves: rows };
}
