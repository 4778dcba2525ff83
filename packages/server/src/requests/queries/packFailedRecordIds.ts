import type { Queryable } from '../../db/index.ts';

/**
 * The record ids of a request's `failed` items, in the request's order, packed 16 bytes each (as
 * RecordIdList holds them), for its retry. With `only`, just those of them; and `notFailed` then
 * lists each of `only` that is not a failed item of the request, with its item's status (null: the
 * record is not in the request).
 */
export async function packFailedRecordIds(
  db: Queryable,
  p: { requestId: string; only: string[] | null },
): Promise<{ packed: Uint8Array; notFailed: Array<{ record_id: string; status: string | null }> }> {
  const { rows } = await db.query<{ packed: Uint8Array; not_failed: Array<{ record_id: string; status: string | null }> }>(
    `
with failed as (
  select i.id, i.record_id
  from items i
  where i.request_id = $1::uuid and i.status = 'failed'
    and ($2::uuid[] is null or i.record_id = any($2::uuid[]))
)
select
  (select coalesce(string_agg(uuid_send(f.record_id), ''::bytea order by f.id), ''::bytea) from failed f) as packed,
  (select coalesce(jsonb_agg(jsonb_build_object('record_id', o.record_id, 'status', i.status) order by o.ord), '[]'::jsonb)
   from unnest($2::uuid[]) with ordinality as o (record_id, ord)
   left join shown_items i on i.request_id = $1::uuid and i.record_id = o.record_id
   where i.status is distinct from 'failed') as not_failed
`,
    [p.requestId, p.only],
  );
  return { packed: rows[0].packed, notFailed: rows[0].not_failed };
}
