import type { Queryable } from '../../db/index.ts';

/** Records a nonce; false when it was seen before (a replay). */
export async function insertNonceIfNew(db: Queryable, p: { robotId: string; nonce: string; expiresAt: Date }): Promise<boolean> {
  const { rowCount } = await db.query(
    `
insert into robot_nonces (robot_id, nonce, expires_at)
values ($1::uuid, $2::text, $3::timestamptz)
on conflict do nothing
`,
    [p.robotId, p.nonce, p.expiresAt.toISOString()],
  );
  return rowCount === 1;
}
