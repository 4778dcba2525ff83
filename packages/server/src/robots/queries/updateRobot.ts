import type { Queryable } from '../../db/index.ts';

export interface RobotChanges {
  name?: string;
  owner?: string | null;
  description?: string | null;
  accepts?: string[];
  produces?: unknown[];
  needs?: string[];
  delivery?: unknown;
  maxBatchSize?: number;
  leaseMs?: number;
  maxAttempts?: number;
  active?: boolean;
}

/** Changes the fields given (null parameters keep the old value); 'missing' or 'name_taken' when it cannot. */
export async function updateRobot(db: Queryable, p: { id: string; changes: RobotChanges; now: Date }): Promise<'updated' | 'missing' | 'name_taken'> {
  const c = p.changes;
  if (c.name !== undefined) {
    const { rowCount } = await db.query(`select 1 from robots where name = $1::text and id <> $2::uuid`, [c.name, p.id]);
    if (rowCount > 0) return 'name_taken';
  }
  const { rowCount } = await db.query(
    `
update robots set
  name = coalesce($2::text, name),
  owner = case when $3::boolean then $4::text else owner end,
  description = case when $5::boolean then $6::text else description end,
  accepts = coalesce($7::text[], accepts),
  produces = coalesce($8::jsonb, produces),
  needs = coalesce($9::text[], needs),
  delivery = coalesce($10::jsonb, delivery),
  max_batch_size = coalesce($11::int, max_batch_size),
  lease_ms = coalesce($12::int, lease_ms),
  max_attempts = coalesce($13::int, max_attempts),
  active = coalesce($14::boolean, active),
  updated_at = $15::timestamptz
where id = $1::uuid
`,
    [
      p.id,
      c.name ?? null,
      c.owner !== undefined,
      c.owner ?? null,
      c.description !== undefined,
      c.description ?? null,
      c.accepts ?? null,
      c.produces === undefined ? null : JSON.stringify(c.produces),
      c.needs ?? null,
      c.delivery === undefined ? null : JSON.stringify(c.delivery),
      c.maxBatchSize ?? null,
      c.leaseMs ?? null,
      c.maxAttempts ?? null,
      c.active ?? null,
      p.now.toISOString(),
    ],
  );
  return rowCount === 1 ? 'updated' : 'missing';
}
