import type { Queryable } from '../../db/db.ts';
import { backoffSql, retryBackoff } from '../backoff.ts';
import { requestIdsOf, retriedRobotIdsOf, type ItemMove } from './itemMoves.ts';

/**
 * Items of the batch still `importing` that the robot answered with a per-record error marked
 * `retryable` (parallel arrays, one statement): back to `pending` after a backoff while attempts
 * remain, otherwise `failed` with the robot's message. Returns the requests and robots touched, and
 * how many items went where.
 */
export async function retryOrFailAnsweredItems(
  db: Queryable,
  p: { batchId: string; errors: ReadonlyArray<{ record_id: string; message: string }>; now: Date },
): Promise<{ requestIds: string[]; retriedRobotIds: string[]; moves: ItemMove[] }> {
  if (p.errors.length === 0) return { requestIds: [], retriedRobotIds: [], moves: [] };
  const { rows } = await db.query<ItemMove>(
    `
with answer as (
  select * from unnest($2::uuid[], $3::text[]) as t(record_id, message)
),
moved as (
update items i set
  status = case when i.attempts < r.max_attempts then 'pending' else 'failed' end,
  available_at = ${backoffSql('$4::timestamptz', '$5', '$6')},
  error_code = 'robot_error',
  error_message = case when i.attempts < r.max_attempts
    then answer.message || ' (attempt ' || i.attempts || ' of ' || r.max_attempts || '; will retry)'
    else answer.message || ' (attempt ' || i.attempts || ' of ' || r.max_attempts || ')' end,
  updated_at = $4::timestamptz
from answer, robots r
where i.batch_id = $1::uuid and i.status = 'importing' and i.record_id = answer.record_id and r.id = i.robot_id
returning i.request_id, i.robot_id, i.status
)
select request_id::text, robot_id::text, status, count(*)::int as n from moved group by 1, 2, 3
`,
    [p.batchId, p.errors.map((e) => e.record_id), p.errors.map((e) => e.message), p.now.toISOString(), retryBackoff.baseMs, retryBackoff.capMs],
  );
  return { requestIds: requestIdsOf(rows), retriedRobotIds: retriedRobotIdsOf(rows), moves: rows };
}
