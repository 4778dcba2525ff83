import type { Queryable } from '../../db/index.ts';

export interface ClaimedBatchFiles {
  id: string;
  /** When the batch ended (its last move), as PostgreSQL wrote it: the walk goes on after it. */
  ended_at: string;
  items_key: string;
  results_key: string;
  report_key: string | null;
}

/** Where a pass of `claimBatchFilesPastRetention` starts: before every batch. */
export const fromFirstBatch = { endedAt: '-infinity', id: '00000000-0000-0000-0000-000000000000' };

/**
 * Claims for `claimMs` up to `limit` batches whose files are due for deletion: the batch ended
 * (completed, failed or expired) no later than `endedBy`, and so did every request with an item in
 * it. A batch whose items all went on to a later attempt has none left: its files are due from its
 * own end. Batches are walked by end then id, from `after`: a batch kept for a request still open
 * is looked at once a pass, not once a page. Another process skips the claimed batches until the
 * claim lapses. Returns them in walking order.
 */
export async function claimBatchFilesPastRetention(
  db: Queryable,
  p: { now: Date; endedBy: Date; after: { endedAt: string; id: string }; limit: number; claimMs: number },
): Promise<ClaimedBatchFiles[]> {
  const { rows } = await db.query<ClaimedBatchFiles>(
    `
with claimed as (
  update batches b set files_claimed_until = $1::timestamptz + make_interval(secs => $2::int / 1000.0)
  where b.id = any(array(
    select d.id from batches d
    where d.status in ('completed', 'failed', 'expired') and d.files_deleted_at is null
      and d.updated_at <= $3::timestamptz
      and (d.updated_at, d.id) > ($4::timestamptz, $5::uuid)
      and (d.files_claimed_until is null or d.files_claimed_until < $1::timestamptz)
      and not exists (
        select 1 from batch_items(d.id) i join requests r on r.id = i.request_id
        where (r.finished_at is null or r.finished_at > $3::timestamptz)
      )
    order by d.updated_at, d.id
    limit $6::int
    for update of d skip locked
  ))
  returning b.id, b.updated_at, b.items_key, b.results_key, b.report_key
)
select c.id::text, c.updated_at::text as ended_at, c.items_key, c.results_key, c.report_key
from claimed c
order by c.updated_at, c.id
`,
    [p.now.toISOString(), p.claimMs, p.endedBy.toISOString(), p.after.endedAt, p.after.id, p.limit],
  );
  return rows;
}
