import type { Queryable } from '../../db/index.ts';
import type { Retry } from '../../work/index.ts';
import { batchBackoffSql, epochMsSql, retryBackoff } from '../backoff.ts';
import { requestIdsOf, retriesOf, type ItemMove, type RetryMove } from './itemMoves.ts';

/**
 * Items of the importing batch, still with it (their rows `leased`), that the robot answered with a
 * per-record error marked `retryable` (`robot_error`) or never answered (`missing`), from parallel
 * arrays (one statement): back to `pending` while attempts remain, after the batch's backoff (the
 * moment `retryOrFailItems` gives a batch's retried items), otherwise `failed` with the message.
 * Returns the requests touched, the retries (robot and moment) to wake for, and how many items
 * went where.
 */
export async function retryOrFailAnsweredItems(
  db: Queryable,
  p: { batchId: string; code: 'robot_error' | 'missing'; errors: ReadonlyArray<{ record_id: string; message: string }>; now: Date },
): Promise<{ requestIds: string[]; retries: Retry[]; moves: ItemMove[] }> {
  if (p.errors.length === 0) return { requestIds: [], retries: [], moves: [] };
  const { rows } = await db.query<RetryMove>(
    `
with answer as (
  select * from unnest($2::uuid[], $3::text[]) as t(record_id, message)
),
moved as (
update items i set
  status = case when x.attempts < r.max_attempts then 'pending' else 'failed' end,
  batch_id = b.id,
  attempts = x.attempts,
  available_at = ${batchBackoffSql('$4::timestamptz', '$5', '$6', 'b')},
  error_code = $7::text,
  error_message = case when x.attempts < r.max_attempts
    then answer.message || ' (attempt ' || x.attempts || ' of ' || r.max_attempts || '; will retry)'
    else answer.message || ' (attempt ' || x.attempts || ' of ' || r.max_attempts || ')' end,
  updated_at = $4::timestamptz
from answer, batches b, batch_items($1::uuid) x, robots r
where b.id = $1::uuid and i.id = x.id and i.status = x.row_status and x.status = 'leased' and x.record_id = answer.record_id and r.id = i.robot_id
returning i.request_id, i.robot_id, i.status, i.available_at
)
select request_id::text, robot_id::text, status, case when status = 'pending' then ${epochMsSql('available_at')} end as at, count(*)::int as n
from moved group by 1, 2, 3, 4
`,
    [p.batchId, p.errors.map((e) => e.record_id), p.errors.map((e) => e.message), p.now.toISOString(), retryBackoff.baseMs, retryBackoff.capMs, p.code],
  );
  return { requestIds: requestIdsOf(rows), retries: retriesOf(rows), moves: rows };
}
