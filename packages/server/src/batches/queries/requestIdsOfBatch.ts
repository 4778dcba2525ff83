import type { Queryable } from '../../db/index.ts';

/** The requests a batch's items belong to. */
export async function requestIdsOfBatch(db: Queryable, p: { batchId: string }): Promise<string[]> {
  const { rows } = await db.query<{ request_id: string }>(`select distinct request_id::text from batch_items($1::uuid)`, [p.batchId]);
  return rows.map((r) => r.request_id);
}
