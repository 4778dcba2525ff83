import type { Queryable } from '../../db/index.ts';
import type { ImportContext } from './getImportContext.ts';
import { requestIsOpen } from '../../requests/index.ts';

/** A batch moved to `importing`, and what its import needs, read in the same statement. */
export interface StartedImport {
  /**
   * The batch's import context (getImportContext's), when every item of the batch moved with it;
   * null when some did not (closed with their request): the import then reads its context itself.
   */
  context: ImportContext | null;
}

/**
 * The fence: moves a batch from `leased` to `importing` only while its lease holds and only for the
 * holder of its lease token; the import is this process's for `importLeaseMs`
 * (renewImportLeaseIfImporting keeps it). Its items still `leased` move with it unwritten: they
 * show `importing` through the batch, and its trigger moves their requests' counts
 * (db/functions/04_item_counts.sql). Items cancelled or expired with their request stay out; a
 * batch with none left open does not move. Null when any of that fails; `overdue` when it holds an
 * item of an open request past its deadline, which the deadlines service has not expired yet (the
 * caller expires it, then fences again: startImportIfLeased).
 */
export async function startBatchImportIfLeased(db: Queryable, p: { id: string; robotId: string; leaseToken: string; importLeaseMs: number; now: Date }): Promise<StartedImport | 'overdue' | null> {
  const { rows } = await db.query<Omit<ImportContext, 'report_key' | 'closed'> & { item_count: number; overdue: boolean }>(
    `
with past_deadline as (
  select id from requests where expires_at <= $4::timestamptz and ${requestIsOpen()}
),
held as (
  select i.record_id, i.request_id, i.request_id in (select id from past_deadline) as overdue
  from batch_items($1::uuid) i where i.status = 'leased'
),
b as (
  update batches set status = 'importing', import_expires_at = $4::timestamptz + make_interval(secs => $5::int / 1000.0), updated_at = $4::timestamptz
  where id = $1::uuid and robot_id = $2::uuid and lease_token = $3::text and status = 'leased' and lease_expires_at > $4::timestamptz
    and exists (select 1 from held) and not exists (select 1 from held where overdue)
  returning id, robot_id, results_key, item_count
)
select b.id::text, b.robot_id, b.results_key, b.item_count, r.produces, r.protocol, r.updated_at as robot_updated_at, false as overdue,
  (select coalesce(jsonb_agg(jsonb_build_object('record_id', h.record_id, 'request_id', h.request_id)), '[]') from held h) as items
from b join robots r on r.id = b.robot_id
union all
select null, null, null, null, null, null, null, true, null
where not exists (select 1 from b) and exists (select 1 from held where overdue)
  and exists (
    select 1 from batches where id = $1::uuid and robot_id = $2::uuid and lease_token = $3::text and status = 'leased' and lease_expires_at > $4::timestamptz)
`,
    [p.id, p.robotId, p.leaseToken, p.now.toISOString(), p.importLeaseMs],
  );
  const row = rows[0];
  if (!row) return null;
  if (row.overdue) return 'overdue';
  const { item_count, overdue: _, ...context } = row;
  return { context: context.items.length === item_count ? { ...context, report_key: null, closed: [] } : null };
}
