import type { Queryable } from '../../db/index.ts';

export interface DueAutomation {
  automation_id: string;
  /** When its earliest waiting match was imported. */
  first_at: Date;
  waiting: number;
}

/** Every automation with matches waiting: since when, how many. */
export async function listWaitingMatches(db: Queryable): Promise<DueAutomation[]> {
  const { rows } = await db.query<DueAutomation>(`select automation_id, min(created_at) as first_at, count(*)::int as waiting from automation_matches group by automation_id`);
  return rows;
}

/**
 * Closes an automation's window: its oldest `limit` waiting matches (those no other process is
 * closing) become one run, with each record once and the imports that matched them, and are
 * deleted, in one statement. The run's id, or null when none was waiting.
 */
export async function gatherRun(db: Queryable, p: { automationId: string; runId: string; limit: number; now: Date }): Promise<string | null> {
  const { rows } = await db.query<{ id: string }>(
    `
with picked as (
  select id, record_id, source_kind, source_id, depth from automation_matches
  where automation_id = $1::uuid order by id limit $3::int
  for update skip locked
),
gone as (delete from automation_matches m using picked p where m.id = p.id)
insert into automation_runs (id, automation_id, record_ids, sources, depth, created_at)
select $2::uuid, $1::uuid, array_agg(distinct record_id),
  (select jsonb_agg(s order by s->>'id') from (select distinct jsonb_build_object('kind', source_kind, 'id', source_id) as s from picked) d),
  max(depth), $4::timestamptz
from picked
having count(*) > 0
returning id
`,
    [p.automationId, p.runId, p.limit, p.now.toISOString()],
  );
  return rows[0]?.id ?? null;
}
