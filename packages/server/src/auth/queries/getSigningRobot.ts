import type { Queryable } from '../../db/db.ts';
import { robotColumns, secretIsLive, type RobotRow } from '../../robots/queries/robotRow.ts';

/**
 * A robot signing a request: its row and its live secrets (the current one, and the previous
 * one during its grace period), in one query. Null when no robot has that id.
 */
export async function getSigningRobot(db: Queryable, p: { robotId: string; now: Date }): Promise<{ robot: RobotRow; secrets: string[] } | null> {
  const { rows } = await db.query<RobotRow & { live_secrets: string[] }>(
    `
select ${robotColumns.replaceAll('$now', '$2')},
  array(select s.secret from robot_secrets s where s.robot_id = r.id and ${secretIsLive('$2')}) as live_secrets
from robots r
where r.id = $1::uuid
`,
    [p.robotId, p.now.toISOString()],
  );
  if (rows.length === 0) return null;
  const { live_secrets: secrets, ...robot } = rows[0];
  return { robot, secrets };
}
