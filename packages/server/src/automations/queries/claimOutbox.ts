import type { Queryable } from '../../db/index.ts';

/** Outbox rows no other process holds, oldest first, locked until the transaction ends: it matches and deletes them. */
export async function claimOutbox(db: Queryable, p: { limit: number }): Promise<number[]> {
  const { rows } = await db.query<{ id: string }>(`select id from automation_outbox order by id limit $1::int for update skip locked`, [p.limit]);
  return rows.map((r) => Number(r.id));
}

export async function deleteOutbox(db: Queryable, p: { ids: number[] }): Promise<void> {
  await db.query(`delete from automation_outbox where id = any($1::bigint[])`, [p.ids]);
}
