import type { Queryable } from '../../db/index.ts';

/**
 * Adds a new secret and lets the live ones expire after the grace period, so that at most two
 * work at once. Returns false when the robot does not exist.
 */
export async function rotateRobotSecret(db: Queryable, p: { robotId: string; secretId: string; secret: string; graceMs: number; now: Date }): Promise<boolean> {
  const { rowCount } = await db.query(
    `
with robot as (select id from robots where id = $1::uuid),
old as (
  update robot_secrets
  -- the current secret gets the grace period; one already in its grace period stops now
  set expires_at = case when expires_at is null then $4::timestamptz + make_interval(secs => $5::int / 1000.0) else $4::timestamptz end
  where robot_id in (select id from robot) and (expires_at is null or expires_at > $4::timestamptz)
),
too_old as (
  delete from robot_secrets where robot_id in (select id from robot) and expires_at <= $4::timestamptz
)
insert into robot_secrets (id, robot_id, secret, created_at)
select $2::uuid, robot.id, $3::text, $4::timestamptz from robot
`,
    [p.robotId, p.secretId, p.secret, p.now.toISOString(), p.graceMs],
  );
  return rowCount === 1;
}
