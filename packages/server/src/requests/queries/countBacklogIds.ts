import type { Queryable } from '../../db/index.ts';

/** How many of a request's ids wait in its backlog, not yet items (16 bytes an id). */
export async function countBacklogIds(db: Queryable, p: { requestId: string }): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`select coalesce(sum(length(record_ids) / 16), 0)::int as n from item_backlog where request_id = $1::uuid`, [p.requestId]);
  return rows[0].n;
}
