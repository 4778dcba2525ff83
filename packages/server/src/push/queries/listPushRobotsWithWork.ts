import type { Queryable } from '../../db/index.ts';
import { robotColumns, type RobotRow } from '../../robots/index.ts';

/** Active push robots with pending items available now: the ones the dispatcher has batches for. */
export async function listPushRobotsWithWork(db: Queryable, p: { now: Date; limit: number }): Promise<RobotRow[]> {
  const { rows } = await db.query<RobotRow>(
    `
select ${robotColumns.replaceAll('$now', '$1')}
from robots r
where r.active and r.delivery->>'mode' = 'push'
  and (exists (select 1 from items i where i.robot_id = r.id and i.queued and i.available_at <= $1::timestamptz)
    or has_span_work(r.id, $1::timestamptz))
order by r.id
limit $2::int
`,
    [p.now.toISOString(), p.limit],
  );
  return rows;
}
