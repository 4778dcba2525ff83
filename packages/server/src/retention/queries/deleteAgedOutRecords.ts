import type { Queryable } from '../../db/index.ts';
import { holdImportLock } from '../../records/index.ts';

/**
 * Deletes up to `limit` records that aged out — older than their type's `aged_out`, or past their
 * own `expires_at` — with their identifiers and enhancements, and expires the pending items that
 * named them. Returns the records removed and the requests whose items moved. Items already
 * handed to a robot are left to their batch: its import fails them with `record_gone`.
 *
 * Three statements, in the caller's transaction, after the import lock (holdImportLock: no
 * records import runs meanwhile, so none gives identifiers to a record deleted here). The first
 * picks and locks the records. The second locks enhancements against writes (SHARE): it waits
 * for every transaction that inserted into it to end, and holds off the next inserts until this
 * one commits; their statements then start after the records are gone (a statement takes its
 * table locks before its snapshot), and insertEnhancements adds nothing to a record it does not
 * see. The third, whose snapshot starts after those imports committed, sees every enhancement and
 * identifier of the records and deletes them with the records: none is left behind.
 */
export async function deleteAgedOutRecords(db: Queryable, p: { now: Date; limit: number }): Promise<{ removed: Array<{ id: string; type: string }>; requestIds: string[] }> {
  await holdImportLock(db);
  const { rows: doomed } = await db.query<{ id: string }>(
    `
select r.id::text from records r
where r.id = any(array(
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
))
order by r.id
for update
`,
    [p.now.toISOString(), p.limit],
  );
  if (doomed.length === 0) return { removed: [], requestIds: [] };
  await db.query('lock table enhancements in share mode');
  const { rows } = await db.query<{ kind: 'record' | 'request'; id: string; type: string | null }>(
    `
with enhancements_gone as (
  delete from enhancements e where e.record_id = any($2::uuid[])
),
identifiers_gone as (
  delete from record_identifiers ri where ri.record_id = any($2::uuid[])
),
removed as (
  delete from records r where r.id = any($2::uuid[]) returning r.id, r.type
),
expired as (
  update items i set status = 'expired', error_code = 'record_aged_out',
    error_message = 'the record aged out and was removed before a robot took it', updated_at = $1::timestamptz
  where i.record_id = any($2::uuid[])
    and (i.queued or i.id = any(array(
      -- Items not leased yet: the \`new\` ones after their open request's lease cursor (docs/internals/0034-lease-by-span.md).
      select n.id from requests q join items n on n.request_id = q.id and n.id > q.lease_cursor and n.status = 'new'
      where q.status in ('received', 'processing') and q.n_pending > 0 and n.record_id = any($2::uuid[]))))
  returning i.request_id
)
select 'record' as kind, id::text, type from removed
union all
select distinct 'request', request_id::text, null from expired
`,
    [p.now.toISOString(), doomed.map((d) => d.id)],
  );
  return {
    removed: rows.filter((r) => r.kind === 'record').map((r) => ({ id: r.id, type: r.type! })),
    requestIds: rows.filter((r) => r.kind === 'request').map((r) => r.id),
  };
}
