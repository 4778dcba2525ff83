import type { Queryable } from '../../db/index.ts';
import { compileFilter } from '../../records/index.ts';
import type { AutomationRow } from './automationRow.ts';

/**
 * Adds to an automation's matches, set-based, the records of the claimed outbox rows that fire
 * its trigger and match its filter: records an import created of its records type; records a
 * batch enhanced with its enhancements type, never from its own robot, from the named robot
 * only if one is. A batch's matches are one deeper than the deepest automated request among the
 * batch's; past `maxDepth` they are not added, and the automation's last error says why.
 * Returns how many were added.
 */
export async function matchOutbox(db: Queryable, p: { automation: AutomationRow; outboxIds: number[]; maxDepth: number; now: Date }): Promise<number> {
  const a = p.automation;
  const fixed = [p.outboxIds, a.id, a.robot_id, a.records_type, a.enhancements_type, a.enhancements_robot_id, p.maxDepth, p.now.toISOString()];
  const filter = a.filter ? compileFilter(a.filter, fixed.length + 1) : { sql: 'true', params: [] };
  const { rows } = await db.query<{ added: number }>(
    `
with from_records as (
  select r.id as record_id, 'records' as source_kind, o.source_id, 1 as depth, o.created_at
  from automation_outbox o
  cross join lateral unnest(o.record_ids) as t(id)
  join records r on r.id = t.id
  where o.id = any($1::bigint[]) and o.kind = 'records' and $4::text is not null and r.type = $4::text and ${filter.sql}
),
batches as (
  select o.source_id, o.created_at,
    1 + coalesce((
      select max(run.depth) from automation_runs run
      where run.request_id in (select distinct i.request_id from batch_items(o.source_id) i)
    ), 0) as depth
  from automation_outbox o
  where o.id = any($1::bigint[]) and o.kind = 'batch' and $5::text is not null and o.robot_id <> $3::uuid
    and ($6::uuid is null or o.robot_id = $6::uuid)
),
from_batches as (
  select distinct r.id as record_id, 'batch' as source_kind, b.source_id, b.depth, b.created_at
  from batches b
  cross join lateral batch_items(b.source_id) i
  join enhancements e on e.record_id = i.record_id and e.type = $5::text and e.batch_id = b.source_id
  join records r on r.id = e.record_id
  where ${filter.sql}
),
matched as (select * from from_records union all select * from from_batches),
cut as (
  update automations set
    last_error = 'cut off: a chain of more than ' || $7::int || ' automated requests (REFINERY_AUTOMATION_MAX_DEPTH); what batch '
      || (select string_agg(distinct source_id::text, ', ') from matched where depth > $7::int) || ' imported was not passed on',
    last_error_at = $8::timestamptz
  where id = $2::uuid and exists (select 1 from matched where depth > $7::int)
),
added as (
  insert into automation_matches (automation_id, record_id, source_kind, source_id, depth, created_at)
  select $2::uuid, record_id, source_kind, source_id, depth, created_at from matched where depth <= $7::int
  returning 1
)
select count(*)::int as added from added
`,
    [...fixed, ...filter.params],
  );
  return rows[0].added;
}
