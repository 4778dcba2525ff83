import type { Queryable } from '../../db/index.ts';
import { unpackedIdsSql } from '../../requests/index.ts';

/**
 * Of the ids packed in `ids` (16 bytes each, RecordIdList's format), the first `limit` in their
 * order that are no record of type `type`, and how many of the ids repeat one before them.
 */
export async function findMissingRecords(db: Queryable, p: { ids: Buffer; type: string; limit: number }): Promise<{ missing: string[]; repeated: number }> {
  const { rows } = await db.query<{ missing: string[]; repeated: number }>(
    `
with ids as (${unpackedIdsSql('$1::bytea')})
select
  (select count(*) - count(distinct record_id) from ids)::int as repeated,
  array(
    select i.record_id::text from ids i
    where not exists (select 1 from records r where r.id = i.record_id and r.type = $2::text)
    order by i.ord
    limit $3::int
  ) as missing
`,
    [p.ids, p.type, p.limit],
  );
  return rows[0];
}
