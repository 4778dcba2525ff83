import type { Queryable } from '../../db/index.ts';
import { recordColumns, type RecordRow } from './getRecord.ts';

/** Records in id order (ids are UUIDv7, so oldest first), filtered by type and/or one identifier. */
export async function listRecords(
  db: Queryable,
  p: { type: string | null; identifierType: string | null; identifierValue: string | null; afterId: string | null; limit: number },
): Promise<RecordRow[]> {
  const { rows } = await db.query<RecordRow>(
    `
select ${recordColumns}
from records r
where ($1::text is null or r.type = $1::text)
  and ($2::text is null or r.id = (select ri.record_id from record_identifiers ri where ri.type = $2::text and ri.value = $3::text))
  and ($4::uuid is null or r.id > $4::uuid)
order by r.id
limit $5::int
`,
    [p.type, p.identifierType, p.identifierValue, p.afterId, p.limit],
  );
  return rows;
}
