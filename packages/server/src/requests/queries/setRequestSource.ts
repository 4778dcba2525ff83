import type { Queryable } from '../../db/index.ts';

/** Records where a request came from (a DESTINY enhancement request's `source`). */
export async function setRequestSource(db: Queryable, p: { id: string; source: string }): Promise<void> {
  await db.query(`update requests set source = $2::text where id = $1::uuid`, [p.id, p.source]);
}
