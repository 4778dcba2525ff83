import type { Queryable } from '../../db/db.ts';

/**
 * Inserts a request row (status `received`); with an idempotency key already used by this
 * requester, inserts nothing and returns null.
 */
export async function insertRequest(
  db: Queryable,
  p: { id: string; robotId: string; requestedBy: string; priority: number; expiresAt: string | null; callbackUrl: string | null; idempotencyKey: string | null; bodyHash: string; now: Date },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `
insert into requests (id, robot_id, requested_by, priority, status, expires_at, callback_url, idempotency_key, body_hash, created_at)
values ($1::uuid, $2::uuid, $3::uuid, $4::smallint, 'received', $5::timestamptz, $6::text, $7::text, $8::text, $9::timestamptz)
on conflict (requested_by, idempotency_key) where idempotency_key is not null do nothing
`,
    [p.id, p.robotId, p.requestedBy, p.priority, p.expiresAt, p.callbackUrl, p.idempotencyKey, p.bodyHash, p.now.toISOString()],
  );
  return rowCount === 1;
}
