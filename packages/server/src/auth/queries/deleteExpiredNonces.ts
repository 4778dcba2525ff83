import type { Queryable } from '../../db/index.ts';

export async function deleteExpiredNonces(db: Queryable, p: { now: Date }): Promise<number> {
  const { rowCount } = await db.query(`delete from robot_nonces where expires_at < $1::timestamptz`, [p.now.toISOString()]);
  return rowCount;
}
