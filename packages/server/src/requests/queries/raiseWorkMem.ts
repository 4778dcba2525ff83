import type { Queryable } from '../../db/db.ts';

/**
 * Lets the creating transaction sort and group its items in memory: PostgreSQL's default (4 MB)
 * spills 100,000 ids to disk.
 */
export async function raiseWorkMem(db: Queryable): Promise<void> {
  await db.query(`set local work_mem = '64MB'`);
}
