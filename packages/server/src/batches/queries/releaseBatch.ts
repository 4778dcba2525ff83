import type { Queryable } from '../../db/index.ts';

/**
 * Undoes a lease its robot cannot work (its items file could not be written) or that never reached
 * it (the long poll it was made for had ended): the items go back to `pending` without losing an
 * attempt, and the batch is marked `expired` with `reason`.
 */
export async function releaseBatch(db: Queryable, p: { id: string; reason: string; now: Date }): Promise<void> {
  await db.query(
    `
with b as (
  update batches set status = 'expired', error_message = $3::text, updated_at = $2::timestamptz
  where id = $1::uuid and status = 'leased'
  returning id
)
update items i set status = 'pending', batch_id = x.batch_id, attempts = x.attempts - 1, updated_at = $2::timestamptz
from batch_items($1::uuid) x
where i.id = x.id and i.status = x.row_status and exists (select 1 from b) and x.status = 'leased'
`,
    [p.id, p.now.toISOString(), p.reason],
  );
}
