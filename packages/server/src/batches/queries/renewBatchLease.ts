import type { Queryable } from '../../db/index.ts';

/** Extends a lease that has not lapsed; null when it has (or the batch is not leased). */
export async function renewBatchLeaseIfLeased(db: Queryable, p: { id: string; robotId: string; leaseMs: number; now: Date }): Promise<Date | null> {
  const { rows } = await db.query<{ lease_expires_at: Date }>(
    `
update batches set lease_expires_at = $3::timestamptz + make_interval(secs => $4::int / 1000.0), updated_at = $3::timestamptz
where id = $1::uuid and robot_id = $2::uuid and status = 'leased' and lease_expires_at > $3::timestamptz
returning lease_expires_at
`,
    [p.id, p.robotId, p.now.toISOString(), p.leaseMs],
  );
  return rows[0]?.lease_expires_at ?? null;
}
