import type { Queryable } from '../../db/index.ts';

/** How many records a compiled filter matches, counting no further than `cap` + 1. */
export async function countRecords(db: Queryable, where: { sql: string; params: unknown[] }, cap: number): Promise<number> {
  const n = where.params.length;
  const { rows } = await db.query<{ count: number }>(
    `
select count(*)::int as count
from (select from records r where ${where.sql} limit $${n + 1}::int) matched
`,
    [...where.params, cap + 1],
  );
  return rows[0].count;
}
