import type { Queryable } from '../../db/index.ts';
import { requestIsOpen } from '../open.ts';

/**
 * Finds up to `limit` open requests whose deadline has passed and moves their unfinished items
 * (`pending`, `leased`, `importing`) to `expired` with the code `request_expired`, in one
 * statement; finished items keep their outcome, those that completed with their batch too (their
 * rows `leased`: the batches are locked first, as the cancel does). Batches, then items, are
 * locked before the request rows (the count trigger), the order every item move takes; a second
 * process expiring at once waits on the items, then finds them expired and moves nothing. Returns the requests, for
 * finishOpenRequestsAs in the same transaction.
 */
export async function expireItemsOfOverdueRequests(db: Queryable, p: { now: Date; limit: number }): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `
with due as (
  select id, expires_at from requests
  where ${requestIsOpen()} and expires_at is not null and expires_at <= $1::timestamptz
  order by expires_at
  limit $2::int
),
held as (
  select b.id, b.status from batches b
  where b.id in (select i.batch_id from items i where i.request_id = any(array(select id from due)) and i.status = 'leased'
      union select s.batch_id from batch_spans s where s.request_id = any(array(select id from due)))
  for share of b
),
closed as (
  update items i set status = 'expired', batch_id = x.batch_id, attempts = x.attempts, error_code = 'request_expired',
    error_message = 'the request''s deadline (' || to_char(due.expires_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || ') passed before this item finished',
    updated_at = $1::timestamptz
  from due, item_rows x
  where x.request_id = any(array(select id from due)) and x.request_id = due.id and i.id = x.id and i.status = x.row_status and x.status in ('pending', 'leased')
    and not exists (select 1 from held h where h.id = x.batch_id and shown_item_status(x.status, h.status) = 'completed')
)
select id::text from due
`,
    [p.now.toISOString(), p.limit],
  );
  return rows.map((r) => r.id);
}
