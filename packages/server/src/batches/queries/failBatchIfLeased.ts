import type { Queryable } from '../../db/index.ts';

/** A robot's batch-wide error: `leased` → `failed`, fenced like results. False when the fence holds it back. */
export async function failBatchIfLeased(db: Queryable, p: { id: string; robotId: string; leaseToken: string; message: string; now: Date }): Promise<boolean> {
  const { rowCount } = await db.query(
    `
update batches set status = 'failed', error_message = $4::text, updated_at = $5::timestamptz
where id = $1::uuid and robot_id = $2::uuid and lease_token = $3::text and status = 'leased' and lease_expires_at > $5::timestamptz
`,
    [p.id, p.robotId, p.leaseToken, p.message, p.now.toISOString()],
  );
  return rowCount === 1;
}
