import type { Queryable } from '../../db/index.ts';
import { referenceLineSql } from '../../destiny/index.ts';
import type { RobotProtocol } from '../../robots/index.ts';

/** Items file lines read per statement. */
export const itemsPageSize = 1000;

/**
 * SQL for one items file line of record `r`: the record with the enhancements of the types the
 * robot needs (the text[] parameter `needsParam`; none are looked up when it is null). The line is
 * put together as text from the stored JSON: no JSON value is built and printed again per record.
 */
export function itemLineSql(needsParam: string | null): string {
  const enhancements =
    needsParam === null
      ? `'[]'`
      : `coalesce((
      select jsonb_agg(jsonb_build_object('id', e.id, 'type', e.type, 'content', e.content, 'robot_id', e.robot_id, 'created_at', e.created_at) order by e.created_at)
      from enhancements e
      where e.record_id = r.id and e.type = any(${needsParam})
    )::text, '[]')`;
  return `'{"record":{"id":"' || r.id::text || '","type":' || to_json(r.type)::text
    || ',"identifiers":' || r.identifiers::text || ',"content":' || r.content::text
    || ',"enhancements":' || ${enhancements} || '}}'`;
}

/** SQL for one line of record `r` in the items file of a robot speaking `protocol` (DESTINY's: a Reference). */
const lineSql = (needsParam: string | null, protocol: RobotProtocol = 'refinery') => (protocol === 'destiny' ? referenceLineSql : itemLineSql)(needsParam);

/**
 * SQL for the first page of a new batch's items file, from `items` (a relation of the batch's
 * `id, record_id`): one row, `text` (its lines, by item id) and `last` (the last item id in it),
 * which itemsFileLines reads on after. `needsParam` as in itemLineSql; `protocol`: the robot's.
 */
export function firstPageSql(items: string, needsParam: string | null, protocol?: RobotProtocol): string {
  return `select string_agg(x.line, E'\\n' order by x.id) || E'\\n' as text, max(x.id)::text as last
  from (
    select l.id, ${lineSql(needsParam, protocol)} as line
    -- Each record by its key: the planner cannot guess how many items spans hold and would hash every record.
    from ${items} l join lateral (select r.* from records r where r.id = l.record_id limit 1) r on true
    order by l.id
    limit ${itemsPageSize}
  ) x`;
}

/**
 * The items file of a batch (or its items after item id `after`), as JSONL text, a page of
 * records at a time (itemLineSql).
 */
export async function* itemsFileLines(
  db: Queryable,
  p: { batchId: string; itemCount: number; needs: string[]; protocol?: RobotProtocol; after?: string; pageSize?: number },
): AsyncIterable<string> {
  const pageSize = p.pageSize ?? itemsPageSize;
  let after = p.after ?? '0';
  let read = 0;
  while (read < p.itemCount) {
    const { rows } = await db.query<{ seq: string; line: string }>(
      `
select i.id::text as seq, ${lineSql(p.needs.length === 0 ? null : '$4::text[]', p.protocol)} as line
from batch_items($1::uuid) i join records r on r.id = i.record_id
where i.status = 'leased' and i.id > $2::bigint
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
