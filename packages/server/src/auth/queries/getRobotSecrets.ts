import type { Queryable } from '../../db/db.ts';

/** The robot's live secrets (the current one, and the previous one during its grace period). */
export async function getRobotSecrets(db: Queryable, p: { robotId: string; now: Date }): Promise<string[]> {
  const { rows } = await db.query<{ secret: string }>(
    `
select secret
from robot_secrets
where robot_id = $1::uuid and (expires_at is null or expires_at > $2::timestamptz)
`,
    [p.robotId, p.now.toISOString()],
  );
  return rows.map((r) => r.secret);
}
