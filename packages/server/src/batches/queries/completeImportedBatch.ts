import type { Queryable } from '../../db/db.ts';

/** The last step of an import: the batch, its items settled, moves from `importing` to `completed`; whether it did. */
export async function completeImportedBatch(db: Queryable, p: { batchId: string; now: Date }): Promise<boolean> {
  const { rowCount } = await db.query(`update batches set status = 'completed', import_expires_at = null, updated_at = $2::timestamptz where id = $1::uuid and status = 'importing'`, [
    p.batchId,
    p.now.toISOString(),
  ]);
  return rowCount > 0;
}
