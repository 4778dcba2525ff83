import type { Queryable } from '../../db/index.ts';
import { batchColumns, type BatchRow } from './batchRow.ts';

/** A robot's batch; another robot's is as good as missing. */
export async function getBatch(db: Queryable, p: { id: string; robotId: string }): Promise<BatchRow | null> {
  const { rows } = await db.query<BatchRow>(`select ${batchColumns} from batches b where b.id = $1::uuid and b.robot_id = $2::uuid`, [p.id, p.robotId]);
  return rows[0] ?? null;
}
