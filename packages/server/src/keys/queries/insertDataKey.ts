import type { Queryable } from '../../db/index.ts';

export async function insertDataKey(db: Queryable, p: { id: string; masterKeyId: string; wrapped: Buffer; now: Date }): Promise<void> {
  await db.query(`insert into data_keys (id, master_key_id, wrapped, created_at) values ($1::text, $2::text, $3::bytea, $4::timestamptz)`, [p.id, p.masterKeyId, p.wrapped, p.now.toISOString()]);
}
