import type { Queryable } from '../../db/index.ts';
import { recordColumns, type RecordRow } from './getRecord.ts';

/** The records a compiled filter (`where`, whose placeholders are $1…$n of `params`) matches, in id order after `afterId`. */
export async function searchRecords(db: Queryable, where: { sql: string; params: unknown[] }, p: { afterId: string | null; limit: number }): Promise<RecordRow[]> {
  const n = where.params.length;
  const { rows } = await db.query<RecordRow>(
    `
select ${recordColumns}
from records r
where ${where.sql}
  and ($${n + 1}::uuid is null or r.id > $${n + 1}::uuid)
order by r.id
limit $${n + 2}::int
`,
    [...where.params, p.afterId, p.limit],
  );
  return rows;
}
