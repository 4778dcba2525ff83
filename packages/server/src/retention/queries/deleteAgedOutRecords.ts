import type { Queryable } from '../../db/db.ts';

/**
 * Deletes up to `limit` records that aged out — older than their type's `aged_out`, or past their
 * own `expires_at` — with their identifiers and enhancements (foreign keys cascade), and expires
 * the pending items that named them, in one statement. Returns the records removed and the
 * requests whose items moved. Items already handed to a robot are left to their batch: its import
 * fails them with `record_gone`.
 */
export async function deleteAgedOutRecords(db: Queryable, p: { now: Date; limit: number }): Promise<{ removed: Array<{ id: string; type: string }>; requestIds: string[] }> {
  const { rows } = await db.query<{ kind: 'record' | 'request'; id: string; type: string | null }>(
    `
with doomed as (
  select old.id from record_types rt
  cross join lateral (
    select r.id from records r
    where r.type = rt.type and r.created_at <= $1::timestamptz - make_interval(secs => rt.aged_out_ms / 1000.0)
    order by r.created_at
    limit $2::int
  ) old
  union
  (select r.id from records r where r.expires_at <= $1::timestamptz order by r.expires_at limit $2::int)
  limit $2::int
),
removed as (
  delete from records r where r.id = any(array(select id from doomed)) returning r.id, r.type
),
expired as (
  update items i set status = 'expired', error_code = 'record_aged_out',
    error_message = 'the record aged out and was removed before a robot took it', updated_at = $1::timestamptz
  where i.record_id = any(array(select id from removed)) and i.queued
  returning i.request_id
)
select 'record' as kind, id::text, type from removed
union all
select distinct 'request', request_id::text, null from expired
`,
    [p.now.toISOString(), p.limit],
  );
  return {
    removed: rows.filter((r) => r.kind === 'record').map((r) => ({ id: r.id, type: r.type! })),
    requestIds: rows.filter((r) => r.kind === 'request').map((r) => r.id),
  };
}
