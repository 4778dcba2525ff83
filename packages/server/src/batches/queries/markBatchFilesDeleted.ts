import type { Queryable } from '../../db/index.ts';

/** Records that these batches' files are deleted, and ends their claim; returns how many it marked (none twice). */
export async function markBatchFilesDeleted(db: Queryable, p: { ids: readonly string[]; now: Date }): Promise<number> {
  const { rowCount } = await db.query(
    `update batches set files_deleted_at = $2::timestamptz, files_claimed_until = null where id = any($1::uuid[]) and files_deleted_at is null`,
    [p.ids, p.now.toISOString()],
  );
  return rowCount;
}
