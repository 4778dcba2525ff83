import type { Queryable } from '../../db/index.ts';
import type { RobotProtocol } from './robotRow.ts';

export interface NewRobot {
  id: string;
  name: string;
  owner: string | null;
  description: string | null;
  accepts: string[];
  produces: unknown[];
  needs: string[];
  delivery: unknown;
  maxBatchSize: number;
  leaseMs: number;
  maxAttempts: number;
  /** Default `refinery`. */
  protocol?: RobotProtocol;
  secretId: string;
  secret: string;
  now: Date;
}

/** Inserts a robot and its first secret; false when the name is taken. */
export async function insertRobot(db: Queryable, p: NewRobot): Promise<boolean> {
  const { rowCount } = await db.query(
    `
with robot as (
  insert into robots (id, name, owner, description, accepts, produces, needs, delivery, max_batch_size, lease_ms, max_attempts, active, protocol, created_at, updated_at)
  values ($1::uuid, $2::text, $3::text, $4::text, $5::text[], $6::jsonb, $7::text[], $8::jsonb, $9::int, $10::int, $11::int, true, $15::text, $12::timestamptz, $12::timestamptz)
  on conflict (name) do nothing
  returning id
)
insert into robot_secrets (id, robot_id, secret, created_at)
select $13::uuid, robot.id, $14::text, $12::timestamptz from robot
`,
    [p.id, p.name, p.owner, p.description, p.accepts, JSON.stringify(p.produces), p.needs, JSON.stringify(p.delivery), p.maxBatchSize, p.leaseMs, p.maxAttempts, p.now.toISOString(), p.secretId, p.secret, p.protocol ?? 'refinery'],
  );
  return rowCount === 1;
}
