import type { Queryable } from '../../db/db.ts';

/** The staging table a records import is copied into before it is merged, one row per record sent. */
export const stagedRecordColumns = ['ord', 'id', 'type', 'identifiers', 'content', 'visibility', 'expires_at'] as const;

export async function createRecordsStaging(db: Queryable): Promise<void> {
  await db.query(`
create temp table records_in (
  ord int not null,
  id uuid not null,
  type text not null,
  identifiers jsonb not null,
  content text, -- JSON text, cast when merged
  visibility text,
  expires_at timestamptz
) on commit drop
`);
}

/**
 * Merges the staged records into `records`, set-based. A staged record takes the id of the
 * existing record that holds one of its identifiers, or of the first staged record sharing one;
 * otherwise its own new id. The last one sent wins. Identifiers held by another record stay there.
 * With `analyze`, the staging tables get planner statistics before they are joined: without them
 * the planner takes 1,000,000 staged records for 200 and plans its hashes for that.
 */
export async function upsertStagedRecords(db: Queryable, p: { now: Date; analyze: boolean }): Promise<{ created: number; updated: number }> {
  if (p.analyze) await db.query('analyze records_in');
  await db.query(`
create temp table records_in_idents on commit drop as
select r.ord, x.type, x.value
from records_in r cross join lateral jsonb_to_recordset(r.identifiers) as x(type text, value text)
`);
  if (p.analyze) await db.query('analyze records_in_idents');
  await db.query(`
create temp table records_in_targets on commit drop as
with first_holder as (
  select type, value, min(ord) as first_ord from records_in_idents group by type, value
),
representative as (
  select i.ord, min(f.first_ord) as rep_ord
  from records_in_idents i join first_holder f using (type, value)
  group by i.ord
),
existing as (
  select i.ord, min(ri.record_id::text)::uuid as record_id
  from records_in_idents i join record_identifiers ri on ri.type = i.type and ri.value = i.value
  group by i.ord
)
select rep.ord, coalesce(e_self.record_id, e_rep.record_id, rep_in.id) as target
from representative rep
join records_in rep_in on rep_in.ord = rep.rep_ord
left join existing e_self on e_self.ord = rep.ord
left join existing e_rep on e_rep.ord = rep.rep_ord
`);
  if (p.analyze) await db.query('analyze records_in_targets');
  // One row per target: the last record sent for it.
  const { rows } = await db.query<{ created: number; updated: number }>(
    `
with latest as (
  select distinct on (t.target) t.target, r.*
  from records_in r join records_in_targets t using (ord)
  order by t.target, r.ord desc
),
updated as (
  update records set
    type = latest.type,
    identifiers = (
      select jsonb_agg(x order by x->>'type', x->>'value')
      from (select distinct x from jsonb_array_elements(records.identifiers || latest.identifiers) as x) as d
    ),
    -- what a record leaves out keeps its stored value
    content = coalesce(latest.content::jsonb, records.content),
    visibility = coalesce(latest.visibility, records.visibility),
    expires_at = coalesce(latest.expires_at, records.expires_at),
    updated_at = $1::timestamptz
  from latest
  where records.id = latest.target
  returning records.id
),
inserted as (
  insert into records (id, type, identifiers, content, visibility, expires_at, created_at, updated_at)
  select latest.target, latest.type, latest.identifiers, coalesce(latest.content::jsonb, 'null'::jsonb), coalesce(latest.visibility, 'public'), latest.expires_at, $1::timestamptz, $1::timestamptz
  from latest
  where not exists (select 1 from records where records.id = latest.target)
  returning id
)
select (select count(*) from inserted)::int as created, (select count(*) from updated)::int as updated
`,
    [p.now.toISOString()],
  );
  await db.query(`
insert into record_identifiers (type, value, record_id)
select distinct on (i.type, i.value) i.type, i.value, t.target
from records_in_idents i join records_in_targets t using (ord)
order by i.type, i.value, i.ord
on conflict (type, value) do nothing
`);
  // Rare: a record sent with an identifier another record holds. Its identifiers are re-read from
  // the table, the one source of truth; everywhere else the merge above already got them right.
  await db.query(`
update records r set identifiers = coalesce(
  (select jsonb_agg(jsonb_build_object('type', ri.type, 'value', ri.value) order by ri.type, ri.value) from record_identifiers ri where ri.record_id = r.id),
  '[]')
where r.id in (
  select t.target
  from records_in_idents i
  join records_in_targets t using (ord)
  join record_identifiers ri on ri.type = i.type and ri.value = i.value
  where ri.record_id <> t.target
)
`);
  return rows[0];
}

/**
 * The record id of each staged record, in the order sent, as JSON text: a page of 10,000 quoted
 * ids joined by commas per string, put together by the database (a million ids are then 100
 * strings of 370 KB, not a million small ones).
 */
export async function* stagedRecordTargetsJson(db: Queryable, pageSize = 10_000): AsyncIterable<string> {
  let after = -1;
  for (;;) {
    const { rows } = await db.query<{ last: number | null; n: number; ids: string | null }>(
      `
select max(ord) as last, count(*)::int as n, string_agg('"' || target::text || '"', ',' order by ord) as ids
from (select ord, target from records_in_targets where ord > $1::int order by ord limit $2::int) page
`,
      [after, pageSize],
    );
    const page = rows[0];
    if (page.ids) yield page.ids;
    if (page.n < pageSize) return;
    after = page.last!;
  }
}
