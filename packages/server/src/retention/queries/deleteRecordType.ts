import type { Queryable } from '../../db/index.ts';

/** Removes a record type's retention policy: its records no longer age out. */
export async function deleteRecordType(db: Queryable, p: { type: string }): Promise<void> {
  await db.query(`delete from record_types where type = $1::text`, [p.type]);
}
