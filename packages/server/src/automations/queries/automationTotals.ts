import type { AutomationRun } from '@refinery/protocol';
import type { Queryable } from '../../db/index.ts';

export interface AutomationTotals {
  requests: number;
  items: number;
  waiting: number;
  recent: AutomationRun[];
}

/** What an automation has triggered: requests made and their items, matches waiting, the latest 20 runs. */
export async function automationTotals(db: Queryable, p: { id: string }): Promise<AutomationTotals> {
  const { rows } = await db.query<AutomationTotals>(
    `
select
  (select count(*) from automation_runs where automation_id = $1::uuid and request_id is not null)::int as requests,
  (select coalesce(sum(cardinality(record_ids)), 0) from automation_runs where automation_id = $1::uuid and request_id is not null)::int as items,
  (select count(*) from automation_matches where automation_id = $1::uuid)::int as waiting,
  coalesce((
    select jsonb_agg(jsonb_build_object('request_id', r.request_id, 'item_count', cardinality(r.record_ids), 'triggered_by', r.sources, 'depth', r.depth, 'error', r.error,
      'created_at', r.created_at) order by r.id desc)
    from (select * from automation_runs where automation_id = $1::uuid order by id desc limit 20) r
  ), '[]'::jsonb) as recent
`,
    [p.id],
  );
  return rows[0];
}
