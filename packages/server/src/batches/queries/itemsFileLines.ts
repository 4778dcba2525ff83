import type { Queryable } from '../../db/db.ts';

/**
 * The items file of a batch, as JSONL text, a page of records at a time: each record with
 * the enhancements of the types the robot `needs`.
 */
export async function* itemsFileLines(db: Queryable, p: { batchId: string; needs: string[]; pageSize?: number }): AsyncIterable<string> {
  const pageSize = p.pageSize ?? 1000;
  let after = '0';
  for (;;) {
    const { rows } = await db.query<{ seq: string; line: string }>(
      `
select i.id::text as seq,
  jsonb_build_object('record', jsonb_build_object(
    'id', r.id, 'type', r.type, 'identifiers', r.identifiers, 'content', r.content,
    'enhancements', coalesce((
      select jsonb_agg(jsonb_build_object('id', e.id, 'type', e.type, 'content', e.content, 'robot_id', e.robot_id, 'created_at', e.created_at) order by e.created_at)
      from enhancements e
      where e.record_id = r.id and e.type = any($2::text[])
    ), '[]'::jsonb)
  ))::text as line
from items i join records r on r.id = i.record_id
where i.batch_id = $1::uuid and i.status = 'leased' and i.id > $3::bigint
order by i.id
limit $4::int
`,
      [p.batchId, p.needs, after, pageSize],
    );
    if (rows.length > 0) yield rows.map((r) => r.line).join('\n') + '\n';
    if (rows.length < pageSize) return;
    after = rows[rows.length - 1].seq;
  }
}
