import type { Queryable } from '../../db/index.ts';

/** Marks up to `limit` batches whose lease lapsed as `expired`; returns them, with their robots. */
export async function expireLapsedLeases(db: Queryable, p: { now: Date; limit: number }): Promise<Array<{ id: string; robot_id: string }>> {
  const { rows } = await db.query<{ id: string; robot_id: string }>(
    `
update batches set status = 'expired', updated_at = $1::timestamptz
where id in (
  select id from batches
  where status = 'leased' and lease_expires_at <= $1::timestamptz
  order by lease_expires_at
  limit $2::int
  for update skip locked
)
returning id::text, robot_id::text
`,
    [p.now.toISOString(), p.limit],
  );
  return rows;
}
