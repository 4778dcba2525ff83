import type { ManifestLine } from '@refinery/protocol';
import type { Queryable } from '../../db/db.ts';

/** A request's manifest lines in item order, read a page at a time. */
export async function* manifestLines(db: Queryable, p: { requestId: string; pageSize?: number }): AsyncIterable<ManifestLine> {
  const pageSize = p.pageSize ?? 5000;
  let after = '0';
  for (;;) {
    const { rows } = await db.query<{ seq: string; line: ManifestLine }>(
      `
select i.id::text as seq,
  jsonb_strip_nulls(jsonb_build_object(
    'record_id', i.record_id,
    'status', i.status,
    'enhancement_ids', case when i.enhancement_id is null then '[]'::jsonb else jsonb_build_array(i.enhancement_id) end,
    'error', case when i.error_code is null then null else jsonb_build_object('code', i.error_code, 'message', i.error_message) end
  )) as line
from items i
where i.request_id = $1::uuid and i.id > $2::bigint
order by i.id
limit $3::int
`,
      [p.requestId, after, pageSize],
    );
    for (const row of rows) yield row.line;
    if (rows.length < pageSize) return;
    after = rows[rows.length - 1].seq;
  }
}
