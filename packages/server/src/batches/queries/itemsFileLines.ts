import type { Queryable } from '../../db/db.ts';

/**
 * The items file of a batch, as JSONL text, a page of records at a time: each record with
 * the enhancements of the types the robot `needs`. The line is put together as text from the
 * stored JSON (no JSON value is built and printed again per record); a robot that needs nothing
 * does not look enhancements up at all.
 */
export async function* itemsFileLines(db: Queryable, p: { batchId: string; itemCount: number; needs: string[]; pageSize?: number }): AsyncIterable<string> {
  const pageSize = p.pageSize ?? 1000;
  const enhancements =
    p.needs.length === 0
      ? `'[]'`
      : `coalesce((
      select jsonb_agg(jsonb_build_object('id', e.id, 'type', e.type, 'content', e.content, 'robot_id', e.robot_id, 'created_at', e.created_at) order by e.created_at)
      from enhancements e
      where e.record_id = r.id and e.type = any($4::text[])
    )::text, '[]')`;
  let after = '0';
  let read = 0;
  while (read < p.itemCount) {
    const { rows } = await db.query<{ seq: string; line: string }>(
      `
select i.id::text as seq,
  '{"record":{"id":"' || r.id::text || '","type":' || to_json(r.type)::text
    || ',"identifiers":' || r.identifiers::text || ',"content":' || r.content::text
    || ',"enhancements":' || ${enhancements} || '}}' as line
from items i join records r on r.id = i.record_id
where i.batch_id = $1::uuid and i.status = 'leased' and i.id > $2::bigint
order by i.id
limit $3::int
`,
      p.needs.length === 0 ? [p.batchId, after, pageSize] : [p.batchId, after, pageSize, p.needs],
    );
    if (rows.length > 0) yield rows.map((r) => r.line).join('\n') + '\n';
    if (rows.length < pageSize) return;
    read += rows.length;
    after = rows[rows.length - 1].seq;
  }
}
