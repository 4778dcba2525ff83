import type { Queryable } from '../../db/index.ts';
import { robotColumns, type RobotRow } from './robotRow.ts';

/** Robots in id order, after `afterId`, at most `limit`. */
export async function listRobots(db: Queryable, p: { afterId: string | null; limit: number; now: Date }): Promise<RobotRow[]> {
  const { rows } = await db.query<RobotRow>(
    `
select ${robotColumns.replaceAll('$now', '$3')}
from robots r
where $1::uuid is null or r.id > $1::uuid
order by r.id
limit $2::int
`,
    [p.afterId, p.limit, p.now.toISOString()],
  );
  return rows;
}
