import type { Queryable } from '../../db/index.ts';

/**
 * In a records import's transaction, once merged: one outbox row naming the import and the
 * records it created of a type an active automation waits for; none when no automation waits.
 * Whether it wrote one.
 * A record created now is one whose created_at is this import's `now` (an update keeps its own).
 */
export async function writeRecordsOutbox(db: Queryable, p: { importId: string; now: Date }): Promise<boolean> {
  const { rowCount } = await db.query(
    `
insert into automation_outbox (kind, source_id, record_ids, created_at)
select 'records', $1::uuid, array_agg(distinct t.target), $2::timestamptz
from records_in_targets t
join records r on r.id = t.target
where r.created_at = $2::timestamptz
  and r.type in (select records_type from automations where active and records_type is not null)
having count(*) > 0
`,
    [p.importId, p.now.toISOString()],
  );
  return rowCount > 0;
}
