import type { Queryable } from '../../db/db.ts';

export interface ClosedItem {
  record_id: string;
  status: 'cancelled' | 'expired';
  error_message: string | null;
}

/**
 * The items of a batch closed with their request (cancelled, or expired at its deadline) while
 * the robot held them: the import reports what the robot sent for them and imports nothing.
 */
export async function closedItemsOfBatch(db: Queryable, p: { batchId: string }): Promise<ClosedItem[]> {
  const { rows } = await db.query<ClosedItem>(
    `
select i.record_id::text, i.status, i.error_message
from items i
where i.batch_id = $1::uuid and i.status in ('cancelled', 'expired')
`,
    [p.batchId],
  );
  return rows;
}
