import type { ItemErrorCode } from '@refinery/protocol';
import type { Queryable } from '../../db/index.ts';

/**
 * A push robot asked for time (429 or 503 with Retry-After), or a shutdown cut the delivery short:
 * the batch is given back without counting the attempt — `leased` → `expired`, its items `pending`
 * again, available from `until`, carrying the reason. Fenced by the lease token; false when the
 * batch had moved on already.
 */
export async function deferBatchIfLeased(db: Queryable, p: { id: string; leaseToken: string; until: Date; code: ItemErrorCode; message: string; now: Date }): Promise<boolean> {
  const { rows } = await db.query<{ id: string }>(
    `
with b as (
  update batches set status = 'expired', error_message = $4::text, updated_at = $5::timestamptz
  where id = $1::uuid and lease_token = $2::text and status = 'leased'
  returning id
),
moved as (
  update items i set status = 'pending', batch_id = x.batch_id, attempts = x.attempts - 1, available_at = $3::timestamptz,
    error_code = $6::text, error_message = $4::text, updated_at = $5::timestamptz
  from batch_items($1::uuid) x
  where i.id = x.id and i.status = x.row_status and exists (select 1 from b) and x.status = 'leased'
)
select id::text from b
`,
    [p.id, p.leaseToken, p.until.toISOString(), p.message, p.now.toISOString(), p.code],
  );
  return rows.length === 1;
}
