import type { Queryable } from '../../db/index.ts';
import type { ImportContext } from './getImportContext.ts';
import { requestIsOpen } from '../../requests/index.ts';

/** A batch moved to `importing`, and what its import needs, read in the same statement. */
export interface StartedImport {
  /**
   * The batch's import context (getImportContext's), with every item of the batch `importing`;
   * null when some were not moved (closed with their request, or past its deadline): the import
   * then reads its context itself.
   */
  context: ImportContext | null;
}

/**
 * The fence: moves a batch from `leased` to `importing`, and its items with it, only while its
 * lease holds and only for the holder of its lease token; the import is this process's for
 * `importLeaseMs` (renewImportLeaseIfImporting keeps it). Items cancelled or expired with their
 * request (or past their request's deadline) stay out; a batch with none left open does not
 * move. Null when any of that fails.
 */
export async function startBatchImportIfLeased(db: Queryable, p: { id: string; robotId: string; leaseToken: string; importLeaseMs: number; now: Date }): Promise<StartedImport | null> {
  const { rows } = await db.query<Omit<ImportContext, 'report_key' | 'closed'> & { item_count: number }>(
    `
with past_deadline as (
  select id from requests where expires_at <= $4::timestamptz and ${requestIsOpen()}
),
b as (
  update batches set status = 'importing', import_expires_at = $4::timestamptz + make_interval(secs => $5::int / 1000.0), updated_at = $4::timestamptz
  where id = $1::uuid and robot_id = $2::uuid and lease_token = $3::text and status = 'leased' and lease_expires_at > $4::timestamptz
    and exists (
      select 1 from items i where i.batch_id = $1::uuid and i.status = 'leased'
        and i.request_id not in (select id from past_deadline))
  returning id, robot_id, results_key, item_count
),
moved as (
  update items i set status = 'importing', updated_at = $4::timestamptz
  where i.batch_id = $1::uuid and exists (select 1 from b) and i.status = 'leased'
    and i.request_id not in (select id from past_deadline)
  returning i.record_id, i.request_id
)
select b.id::text, b.robot_id, b.results_key, b.item_count, r.produces, r.protocol, r.updated_at as robot_updated_at,
  (select coalesce(jsonb_agg(jsonb_build_object('record_id', m.record_id, 'request_id', m.request_id)), '[]') from moved m) as items
from b join robots r on r.id = b.robot_id
`,
    [p.id, p.robotId, p.leaseToken, p.now.toISOString(), p.importLeaseMs],
  );
  const row = rows[0];
  if (!row) return null;
  const { item_count, ...context } = row;
  return { context: context.items.length === item_count ? { ...context, report_key: null, closed: [] } : null };
}
