import type { Queryable } from '../../db/index.ts';

/**
 * What became of a leased batch's items: still open (leased, request not past its deadline),
 * cancelled with their request, or expired (or past their request's deadline, which the deadlines service
 * is about to expire). Tells a robot why its results were refused.
 */
export async function countBatchItemsByFate(db: Queryable, p: { batchId: string; now: Date }): Promise<{ open: number; cancelled: number; expired: number }> {
  const { rows } = await db.query<{ open: number; cancelled: number; expired: number }>(
    `
select
  count(*) filter (where i.status = 'leased' and (q.expires_at is null or q.expires_at > $2::timestamptz))::int as open,
  count(*) filter (where i.status = 'cancelled')::int as cancelled,
  count(*) filter (where i.status = 'expired' or (i.status = 'leased' and q.expires_at <= $2::timestamptz))::int as expired
from batch_items($1::uuid) i join requests q on q.id = i.request_id
`,
    [p.batchId, p.now.toISOString()],
  );
  return rows[0];
}
