import type { Queryable } from '../../db/db.ts';

/**
 * The fence: moves a batch from `leased` to `importing`, and its items with it, only while its
 * lease holds and only for the holder of its lease token. Items cancelled or expired with their
 * request (or past their request's deadline) stay out; a batch with none left open does not
 * move. False when any of that fails.
 */
export async function startBatchImportIfLeased(db: Queryable, p: { id: string; robotId: string; leaseToken: string; importMs: number; now: Date }): Promise<boolean> {
  const { rows } = await db.query<{ id: string }>(
    `
with past_deadline as (
  select id from requests where expires_at <= $4::timestamptz and status in ('received', 'processing')
),
b as (
  update batches set status = 'importing', import_expires_at = $4::timestamptz + make_interval(secs => $5::int / 1000.0), updated_at = $4::timestamptz
  where id = $1::uuid and robot_id = $2::uuid and lease_token = $3::text and status = 'leased' and lease_expires_at > $4::timestamptz
    and exists (
      select 1 from items i where i.batch_id = $1::uuid and i.status = 'leased'
        and i.request_id not in (select id from past_deadline))
  returning id
),
moved as (
  update items i set status = 'importing', updated_at = $4::timestamptz
  where i.batch_id = $1::uuid and exists (select 1 from b) and i.status = 'leased'
    and i.request_id not in (select id from past_deadline)
)
select id::text from b
`,
    [p.id, p.robotId, p.leaseToken, p.now.toISOString(), p.importMs],
  );
  return rows.length === 1;
}
