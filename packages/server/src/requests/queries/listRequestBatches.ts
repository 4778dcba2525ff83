import type { Queryable } from '../../db/index.ts';

export interface RequestBatchRow {
  id: string;
  status: string;
  attempt: number;
  item_count: number;
  created_at: Date;
  report_key: string | null;
  files_deleted_at: Date | null;
}

/** The batches that carried any of this request's items (current or past attempts). */
export async function listRequestBatches(db: Queryable, p: { requestId: string; afterId: string | null; limit: number }): Promise<RequestBatchRow[]> {
  const { rows } = await db.query<RequestBatchRow>(
    `
select b.id, b.status, b.attempt, b.item_count, b.created_at, b.report_key, b.files_deleted_at
from batches b
where b.id in (select i.batch_id from items i where i.request_id = $1::uuid and i.batch_id is not null
  -- A failed or expired batch's span items were written with it (above) and may have moved on since.
  union select s.batch_id from batch_spans s join batches x on x.id = s.batch_id where s.request_id = $1::uuid and x.status not in ('failed', 'expired'))
  and ($2::uuid is null or b.id > $2::uuid)
order by b.id
limit $3::int
`,
    [p.requestId, p.afterId, p.limit],
  );
  return rows;
}
