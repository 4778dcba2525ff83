import type { ManifestLine } from '@refinery/protocol';
import type { Queryable } from '../../db/index.ts';

export interface ManifestRow {
  request_id: string;
  line: ManifestLine;
}

/**
 * The manifest lines of several requests, by request id then item order, read a page at a time
 * across them (one statement for many small requests; a large one takes as many pages as it
 * needs): an ordered scan of `items_request_id` with no sort.
 */
export async function* manifestLines(db: Queryable, p: { requestIds: readonly string[]; pageSize?: number }): AsyncIterable<ManifestRow[]> {
  const pageSize = p.pageSize ?? 5000;
  let after = { requestId: '00000000-0000-0000-0000-000000000000', seq: '0' };
  for (;;) {
    const { rows } = await db.query<ManifestRow & { seq: string }>(
      `
select i.request_id::text, i.id::text as seq,
  jsonb_strip_nulls(jsonb_build_object(
    'record_id', i.record_id,
    'status', i.status,
    'enhancement_ids', case when i.enhancement_id is null then '[]'::jsonb else jsonb_build_array(i.enhancement_id) end,
    'error', case when i.error_code is null then null else jsonb_build_object('code', i.error_code, 'message', i.error_message) end
  )) as line
from shown_items i
where i.request_id = any($1::uuid[]) and (i.request_id, i.id) > ($2::uuid, $3::bigint)
order by i.request_id, i.id
limit $4::int
`,
      [p.requestIds, after.requestId, after.seq, pageSize],
    );
    if (rows.length > 0) yield rows;
    if (rows.length < pageSize) return;
    const last = rows[rows.length - 1];
    after = { requestId: last.request_id, seq: last.seq };
  }
}
