import type { Queryable } from '../../db/db.ts';
import { backoffSql, retryBackoff } from '../backoff.ts';
import { requestIdsOf, retriedRobotIdsOf, type ItemMove } from './itemMoves.ts';

/**
 * The items of `batchIds` still in `fromStatus` go back to `pending` after a backoff while
 * `retryable` and attempts remain, otherwise to `failed`, with the error code and message.
 * Returns the requests and robots touched, and how many items went where.
 */
export async function retryOrFailItems(
  db: Queryable,
  p: { batchIds: readonly string[]; fromStatus: 'leased' | 'importing'; code: string; message: string; retryable: boolean; now: Date },
): Promise<{ requestIds: string[]; retriedRobotIds: string[]; moves: ItemMove[] }> {
  if (p.batchIds.length === 0) return { requestIds: [], retriedRobotIds: [], moves: [] };
  const { rows } = await db.query<ItemMove>(
    `
with moved as (
update items i set
  status = case when $4::boolean and i.attempts < r.max_attempts then 'pending' else 'failed' end,
  available_at = ${backoffSql('$6::timestamptz', '$7', '$8')},
  error_code = $3::text,
  error_message = case when $4::boolean and i.attempts < r.max_attempts
    then $5::text || ' (attempt ' || i.attempts || ' of ' || r.max_attempts || '; will retry)'
    else $5::text || ' (attempt ' || i.attempts || ' of ' || r.max_attempts || ')' end,
  updated_at = $6::timestamptz
from robots r
where i.batch_id = any($1::uuid[]) and i.status = $2::text and r.id = i.robot_id
returning i.request_id, i.robot_id, i.status
)
select request_id::text, robot_id::text, status, count(*)::int as n from moved group by 1, 2, 3
`,
    [p.batchIds, p.fromStatus, p.code, p.retryable, p.message, p.now.toISOString(), retryBackoff.baseMs, retryBackoff.capMs],
  );
  return { requestIds: requestIdsOf(rows), retriedRobotIds: retriedRobotIdsOf(rows), moves: rows };
}
