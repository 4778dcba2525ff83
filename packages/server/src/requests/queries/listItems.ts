import type { Queryable } from '../../db/index.ts';

export interface ItemRow {
  seq: string;
  record_id: string;
  status: string;
  attempts: number;
  batch_id: string | null;
  enhancement_id: string | null;
  error_code: string | null;
  error_message: string | null;
  updated_at: Date;
}

/**
 * Items of these statuses always carry an error code: said in the query, it walks only the
 * request's items that carry one (items_with_error, docs/internals/0025-dashboard-reads.md).
 */
const statusesWithError = new Set(['failed', 'denied', 'expired', 'cancelled']);

/**
 * Items shown `leased` or `importing` are, of the rows `leased`, those of the few batches in that
 * status (batches_leased, batches_importing): said in the query, the walk looks up no batch for
 * the others, the many that completed with their batch.
 */
const batchStatuses = new Set(['leased', 'importing']);

/**
 * Only these statuses may show otherwise than their rows say (moves_with_batch; a `new` row shows
 * `pending` or its span's batch's, docs/internals/0034-lease-by-span.md). For any other,
 * filtering the rows is the whole filter, and saying no more lets the planner see how many rows
 * it keeps and walk the request's items in order (a top-N sort of every match otherwise).
 */
const statusesOfBatches = new Set(['pending', 'leased', 'importing', 'completed']);

/**
 * A request's items as they show (shown_items), in creation order, after item `afterSeq`. The
 * statuses its rows may have are filtered first (row_statuses_showing), without their batches.
 */
export async function listItems(db: Queryable, p: { requestId: string; status: string | null; afterSeq: string | null; limit: number }): Promise<ItemRow[]> {
  const { rows } = await db.query<ItemRow>(
    `
select i.id::text as seq, i.record_id, i.status, i.attempts, i.batch_id, i.enhancement_id, i.error_code, i.error_message, i.updated_at
from shown_items i
where i.request_id = $1::uuid
  and ($2::text is null or i.row_status = any(row_statuses_showing($2::text)))
  ${p.status !== null && statusesOfBatches.has(p.status) ? 'and i.status = $2::text' : ''}
  ${p.status !== null && statusesWithError.has(p.status) ? 'and i.error_code is not null' : ''}
  ${p.status !== null && batchStatuses.has(p.status) ? `and (i.row_status <> 'leased' or i.batch_id = any(array(select id from batches where status = '${p.status}')))` : ''}
  and ($3::bigint is null or i.id > $3::bigint)
order by i.id
limit $4::int
`,
    [p.requestId, p.status, p.afterSeq, p.limit],
  );
  return rows;
}
