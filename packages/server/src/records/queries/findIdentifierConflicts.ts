import type { Queryable } from '../../db/index.ts';

/** A group of staged records (one record, or several sharing identifiers) whose identifiers belong to different stored records. */
export interface IdentifierConflict {
  /** The records of the import, by their place in it (1 for the first). */
  records: number[];
  /** The group's identifiers that stored records hold, and which record holds each. */
  identifiers: Array<{ type: string; value: string; record_id: string }>;
}

/** Conflicts at most reported. */
const reported = 10;

/** The conflicts among the staged records' targets (upsertStagedRecords' records_in_targets), the first ten in the order sent. */
export async function findIdentifierConflicts(db: Queryable): Promise<IdentifierConflict[]> {
  const { rows } = await db.query<IdentifierConflict>(
    `
with conflicted as (
  select grp, array_agg(ord order by ord) as records from records_in_targets where conflicted group by grp order by grp limit $1::int
),
held as (
  select distinct c.grp, i.type, i.value, ri.record_id::text
  from conflicted c
  join records_in_targets t using (grp)
  join records_in_idents i using (ord)
  join record_identifiers ri on ri.type = i.type and ri.value = i.value
)
select c.records, jsonb_agg(jsonb_build_object('type', h.type, 'value', h.value, 'record_id', h.record_id) order by h.type, h.value) as identifiers
from conflicted c join held h using (grp)
group by c.grp, c.records
order by c.grp
`,
    [reported],
  );
  return rows;
}
