import type { Queryable } from '../../db/index.ts';
import { findIdentifierConflicts, type IdentifierConflict } from './findIdentifierConflicts.ts';

/** The staging table a records import is copied into before it is merged, one row per record sent. */
export const stagedRecordColumns = ['ord', 'id', 'type', 'identifiers', 'content', 'content_key', 'visibility', 'expires_at'] as const;

export async function createRecordsStaging(db: Queryable): Promise<void> {
  await db.query(`
create temp table records_in (
  ord int not null,
  id uuid not null,
  type text not null,
  identifiers jsonb not null,
  content text, -- JSON text, cast when merged
  content_key text, -- the data key that sealed content (records/encryption.ts)
  visibility text,
  expires_at timestamptz
) on commit drop
`);
}

/**
 * Merges the staged records into `records`, set-based. Records sent together that share an
 * identifier, directly or through other records sent with them, are one record (a group). A group
 * takes the id of the existing record that holds any of its identifiers, otherwise the new id of
 * its first record; the last one of the group sent is what is stored (what it leaves out keeps its
 * stored value), and the record holds every identifier of the group besides those it had.
 * A group whose identifiers belong to two or more existing records is a conflict: then nothing
 * is merged and the conflicts come back (the caller refuses the import).
 * With `analyze`, the staging tables get planner statistics before they are joined: without them
 * the planner takes 1,000,000 staged records for 200 and plans its hashes for that.
 */
export async function upsertStagedRecords(db: Queryable, p: { now: Date; analyze: boolean }): Promise<{ created: number; updated: number; conflicts: IdentifierConflict[] }> {
  if (p.analyze) await db.query('analyze records_in');
  await db.query(`
create temp table records_in_idents on commit drop as
select r.ord, x.type, x.value
from records_in r cross join lateral jsonb_to_recordset(r.identifiers) as x(type text, value text)
`);
  if (p.analyze) await db.query('analyze records_in_idents');
  await groupStagedRecords(db);
  await db.query(`
create temp table records_in_targets on commit drop as
with grouped as (
  select r.ord, coalesce(g.grp, r.ord) as grp from records_in r left join records_in_groups g using (ord)
),
holders as (
  select gr.grp, min(ri.record_id::text) as first_holder, max(ri.record_id::text) as last_holder
  from records_in_idents i
  join grouped gr using (ord)
  join record_identifiers ri on ri.type = i.type and ri.value = i.value
  group by gr.grp
)
select gr.ord, gr.grp, coalesce(h.first_holder::uuid, first.id) as target, coalesce(h.first_holder <> h.last_holder, false) as conflicted
from grouped gr
join records_in first on first.ord = gr.grp
left join holders h using (grp)
`);
  if (p.analyze) await db.query('analyze records_in_targets');
  const conflicts = await findIdentifierConflicts(db);
  if (conflicts.length > 0) return { created: 0, updated: 0, conflicts };
  // One row per target: the last record sent for it, and how many were.
  const { rows } = await db.query<{ created: number; updated: number; merged: number }>(
    `
with latest as (
  select distinct on (t.target) t.target, r.*, count(*) over (partition by t.target) as sent
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
    content_key = case when latest.content is null then records.content_key else latest.content_key end,
    visibility = coalesce(latest.visibility, records.visibility),
    expires_at = coalesce(latest.expires_at, records.expires_at),
    updated_at = $1::timestamptz
  from latest
  where records.id = latest.target
  returning records.id
),
inserted as (
  insert into records (id, type, identifiers, content, content_key, visibility, expires_at, created_at, updated_at)
  select latest.target, latest.type, latest.identifiers, coalesce(latest.content::jsonb, 'null'::jsonb), latest.content_key, coalesce(latest.visibility, 'public'), latest.expires_at, $1::timestamptz, $1::timestamptz
  from latest
  where not exists (select 1 from records where records.id = latest.target)
  returning id
)
select (select count(*) from inserted)::int as created, (select count(*) from updated)::int as updated,
  (select count(*) from latest where sent > 1)::int as merged
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
  const { created, updated, merged } = rows[0];
  // Rare: a record sent more than once in one import (a group, or two records naming one stored
  // record). The merge above gave it the last one's identifiers; it holds all of theirs: they are
  // re-read from the table, the one source of truth.
  if (merged > 0) {
    await db.query(`
update records r set identifiers = (
  select jsonb_agg(jsonb_build_object('type', ri.type, 'value', ri.value) order by ri.type, ri.value) from record_identifiers ri where ri.record_id = r.id)
where r.id in (select target from records_in_targets group by target having count(*) > 1)
`);
  }
  return { created, updated, conflicts: [] };
}

/**
 * records_in_groups: for each staged record that shares an identifier with another, the first
 * (lowest `ord`) record of its group. The lowest `ord` passes along shared identifiers, and from a
 * record's group to the record, until nothing changes: a round for most groups, a few for long
 * chains. Only the records that share identifiers take part, usually none.
 */
async function groupStagedRecords(db: Queryable): Promise<void> {
  await db.query(`
create temp table records_in_links on commit drop as
select i.ord, i.type, i.value
from records_in_idents i
join (select type, value from records_in_idents group by type, value having count(*) > 1) shared using (type, value)
`);
  await db.query(`
create temp table records_in_groups on commit drop as
select ord, min(first_ord) as grp
from (select ord, min(ord) over (partition by type, value) as first_ord from records_in_links) l
group by ord
`);
  for (;;) {
    const { rowCount } = await db.query(`
with ident_grp as (
  select l.type, l.value, min(g.grp) as grp from records_in_links l join records_in_groups g using (ord) group by l.type, l.value
),
hop as (
  select l.ord, min(ig.grp) as grp from records_in_links l join ident_grp ig using (type, value) group by l.ord
)
update records_in_groups g set grp = least(hop.grp, jump.grp)
from hop, records_in_groups jump
where hop.ord = g.ord and jump.ord = g.grp and least(hop.grp, jump.grp) < g.grp
`);
    if (!rowCount) return;
  }
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
