import type { Queryable } from '../../db/index.ts';

export interface RobotStatsRow {
  id: string;
  name: string;
  active: boolean;
  mode: 'pull' | 'push';
  last_seen_at: Date | null;
  leases_held: number;
  items_finished: number;
  items_failed: number;
  lease_expiries: number;
}

/**
 * Robots in id order after `afterId`, each with what its batches of the last hour (since `since`)
 * tell: the items they finished and failed, their expired leases, the leases it holds now, and its
 * last lease or hand-in. Reads batches_robot_updated_at (029_dashboard_indexes.sql) and, for the
 * items of those batches, items_batch_id.
 */
export async function listRobotStats(db: Queryable, p: { afterId: string | null; limit: number; since: Date }): Promise<RobotStatsRow[]> {
  const { rows } = await db.query<RobotStatsRow>(
    `
select r.id, r.name, r.active, r.delivery->>'mode' as mode,
  (select max(b.updated_at) from batches b where b.robot_id = r.id) as last_seen_at,
  (select count(*)::int from batches b where b.robot_id = r.id and b.status = 'leased') as leases_held,
  h.items_finished, h.items_failed, h.lease_expiries
from robots r
cross join lateral (
  select coalesce(sum(f.finished), 0)::int as items_finished, coalesce(sum(f.failed), 0)::int as items_failed,
    count(*) filter (where b.status = 'expired')::int as lease_expiries
  from batches b
  left join lateral (
    select count(*) filter (where shown_item_status(i.status, b.status) in ('completed', 'discarded', 'failed')) as finished,
      count(*) filter (where i.status = 'failed') as failed
    from batch_items(b.id) i
    where b.status = 'completed'
  ) f on true
  where b.robot_id = r.id and b.updated_at >= $3::timestamptz
) h
where $1::uuid is null or r.id > $1::uuid
order by r.id
limit $2::int
`,
    [p.afterId, p.limit, p.since.toISOString()],
  );
  return rows;
}
