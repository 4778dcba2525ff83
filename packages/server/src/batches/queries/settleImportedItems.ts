import type { ItemErrorCode } from '@refinery/protocol';
import type { Queryable } from '../../db/index.ts';
import type { ItemMove } from './itemMoves.ts';

export interface ItemOutcome {
  record_id: string;
  status: 'completed' | 'discarded' | 'failed';
  enhancement_id: string | null;
  error_code: ItemErrorCode | null;
  error_message: string | null;
}

/**
 * Moves the batch's answered items from `importing` to their final state, from parallel arrays
 * (one statement for the whole batch), and records the batch's report, which marks its items
 * settled (the batch stays `importing` until completeImportedBatch). Returns how many items went
 * where, by request.
 */
export async function settleImportedItems(db: Queryable, p: { batchId: string; outcomes: ItemOutcome[]; reportKey: string; now: Date }): Promise<ItemMove[]> {
  const o = p.outcomes;
  const { rows } = await db.query<ItemMove>(
    `
with outcome as (
  select * from unnest($2::uuid[], $3::text[], $4::uuid[], $5::text[], $6::text[]) as t(record_id, status, enhancement_id, error_code, error_message)
),
settled as (
  update items i set status = outcome.status, enhancement_id = outcome.enhancement_id,
    error_code = outcome.error_code, error_message = outcome.error_message, updated_at = $7::timestamptz
  from outcome
  where i.batch_id = $1::uuid and i.status = 'importing' and i.record_id = outcome.record_id
  returning i.request_id, i.robot_id, i.status
),
batch as (
  update batches set report_key = $8::text, updated_at = $7::timestamptz
  where id = $1::uuid and status = 'importing'
)
select request_id::text, robot_id::text, status, count(*)::int as n from settled group by 1, 2, 3
`,
    [
      p.batchId,
      o.map((x) => x.record_id),
      o.map((x) => x.status),
      o.map((x) => x.enhancement_id),
      o.map((x) => x.error_code),
      o.map((x) => x.error_message),
      p.now.toISOString(),
      p.reportKey,
    ],
  );
  return rows;
}
