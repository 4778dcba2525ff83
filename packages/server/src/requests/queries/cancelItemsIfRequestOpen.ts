import type { Queryable } from '../../db/index.ts';
import { requestIsOpen } from '../open.ts';

/**
 * Moves the unfinished items (`pending`, `leased`, and `importing` ones not settled yet) of a
 * request that is still open to `cancelled` with the code `request_cancelled`, in one statement.
 * An item shows `importing` or `completed` through its batch while its row is `leased`
 * (db/functions/04_item_counts.sql): the batches of its leased rows are locked first, so that none
 * completes meanwhile, and an item whose batch completed is left completed. Locks batches, then
 * items, then the request row (the count trigger), the order every item move takes, so it never
 * deadlocks with a lease or an import. False when the request is already final.
 */
export async function cancelItemsIfRequestOpen(db: Queryable, p: { requestId: string; now: Date }): Promise<boolean> {
  const { rows } = await db.query<{ id: string }>(
    `
with target as (
  select id from requests where id = $1::uuid and ${requestIsOpen()}
),
held as (
  select b.id, b.status from batches b
  where b.id in (select i.batch_id from items i where i.request_id = $1::uuid and i.status = 'leased'
      union select s.batch_id from batch_spans s where s.request_id = $1::uuid)
    and exists (select 1 from target)
  for share of b
),
closed as (
  update items i set status = 'cancelled', batch_id = x.batch_id, attempts = x.attempts, error_code = 'request_cancelled',
    error_message = 'the request was cancelled before this item finished', updated_at = $2::timestamptz
  from item_rows x
  where x.request_id = $1::uuid and i.id = x.id and i.status = x.row_status and exists (select 1 from target) and x.status in ('pending', 'leased')
    and not exists (select 1 from held h where h.id = x.batch_id and shown_item_status(x.status, h.status) = 'completed')
)
select id::text from target
`,
    [p.requestId, p.now.toISOString()],
  );
  return rows.length === 1;
}
