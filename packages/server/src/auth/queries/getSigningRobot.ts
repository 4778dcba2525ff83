import type { Queryable } from '../../db/index.ts';
import { robotColumns, secretIsLive, type RobotRow } from '../../robots/index.ts';

/** A robot that signs requests: its row, and its secrets live at the time it was read with when each ends (null: the current one). */
export interface SigningRobot {
  robot: RobotRow;
  secrets: Array<{ secret: string; endsAt: number | null }>;
}

/** The secrets of `signer` live at `now` (the current one, and the previous one in its grace period). */
export function liveSecrets(signer: SigningRobot, now: Date): string[] {
  return signer.secrets.filter((s) => s.endsAt === null || s.endsAt > now.getTime()).map((s) => s.secret);
}

/** A robot signing a request, with its live secrets, in one query. Null when no robot has that id. */
export async function getSigningRobot(db: Queryable, p: { robotId: string; now: Date }): Promise<SigningRobot | null> {
  const { rows } = await db.query<RobotRow & { live_secrets: Array<{ secret: string; ends_at: string | null }> }>(
    `
select ${robotColumns.replaceAll('$now', '$2')},
  (select coalesce(jsonb_agg(jsonb_build_object('secret', s.secret, 'ends_at', s.expires_at)), '[]')
   from robot_secrets s where s.robot_id = r.id and ${secretIsLive('$2')}) as live_secrets
from robots r
where r.id = $1::uuid
`,
    [p.robotId, p.now.toISOString()],
  );
  if (rows.length === 0) return null;
  const { live_secrets, ...robot } = rows[0];
  return { robot, secrets: live_secrets.map((s) => ({ secret: s.secret, endsAt: s.ends_at === null ? null : Date.parse(s.ends_at) })) };
}
