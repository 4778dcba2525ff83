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
 * Settles the batch's answered items whose fate differs from the batch's, from parallel arrays
 * (one statement for the whole batch): those `leased` with it move to their final state. Those
 * completed are not written, they complete with the batch (completeImportedBatch), unless their
 * row still carries an earlier attempt's error, which a completed item does not show. Records the
 * batch's report, which marks its items settled (the batch stays `importing` until then). The
 * batch row is locked before the items, as every writer of a batch's items does
 * (db/functions/04_item_counts.sql). Returns how many items went where, by request.
 */
export async function settleImportedItems(db: Queryable, p: { batchId: string; outcomes: ItemOutcome[]; reportKey: string; now: Date }): Promise<ItemMove[]> {
  const o = p.outcomes;
  const { rows } = await db.query<ItemMove>(
    `
with batch as (
  -- Its moment stays the fence's: the moment its items show while importing.
  update batches set report_key = $8::text
  where id = $1::uuid and status = 'importing'
  returning id
),
outcome as (
  select * from unnest($2::uuid[], $3::text[], $4::uuid[], $5::text[], $6::text[]) as t(record_id, status, enhancement_id, error_code, error_message)
),
settled as (
  update items i set status = outcome.status, batch_id = x.batch_id, attempts = x.attempts, enhancement_id = outcome.enhancement_id,
    error_code = outcome.error_code, error_message = outcome.error_message, updated_at = $7::timestamptz
  -- The batch's id from the parameter, not from the CTE, which only gates: the items scan then
  -- looks up this batch's rows, rather than reading every leased row of every batch.
  from batch, outcome, batch_items($1::uuid) x
  where i.id = x.id and i.status = x.row_status and x.status = 'leased' and x.record_id = outcome.record_id
    and (outcome.status <> 'completed' or x.error_code is not null)
  returning i.request_id, i.robot_id, i.status
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
