import type { Queryable } from '../../db/index.ts';
import { requestIsOpen } from '../open.ts';

/**
 * Moves each given request still open (`received` / `processing`) to `status` (`cancelled` or
 * `expired`), exactly once: the status guard makes a repeat, or a request that finished first,
 * a no-op. The `request.finished` event is written in the same statement, as finishRequestsIfDone
 * does; callers close the request's open items first, in the same transaction.
 */
export async function finishOpenRequestsAs(
  db: Queryable,
  p: { requestIds: readonly string[]; status: 'cancelled' | 'expired'; now: Date },
): Promise<Array<{ id: string; status: string }>> {
  if (p.requestIds.length === 0) return [];
  const { rows } = await db.query<{ id: string; status: string }>(
    `
with finished as (
  update requests set status = $3::text, finished_at = $2::timestamptz
  where id = any($1::uuid[]) and ${requestIsOpen()}
  returning requests as r
),
event as (
  insert into events (request_id, type, payload, created_at)
  select (r).id, 'request.finished', request_progress_payload(r), $2::timestamptz from finished
)
select (r).id::text as id, (r).status as status from finished
`,
    [[...new Set(p.requestIds)], p.now.toISOString(), p.status],
  );
  return rows;
}
