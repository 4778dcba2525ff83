import type { Queryable } from '../../db/index.ts';
import { secretIsLive } from '../../robots/index.ts';

/** The robot's live secrets, newest first (the current one, and the previous one during its grace period). */
export async function getRobotSecrets(db: Queryable, p: { robotId: string; now: Date }): Promise<string[]> {
  const { rows } = await db.query<{ secret: string }>(
    `
select s.secret
from robot_secrets s
where s.robot_id = $1::uuid and ${secretIsLive('$2')}
order by s.created_at desc
`,
    [p.robotId, p.now.toISOString()],
  );
  return rows.map((r) => r.secret);
}
