import type { Queryable } from './db.ts';

/**
 * Lets a large transaction (a create of many items, an import of many records) sort, group and
 * hash in memory: PostgreSQL's default (4 MB) spills 100,000 ids to disk.
 */
export async function raiseWorkMem(db: Queryable): Promise<void> {
  await db.query(`set local work_mem = '64MB'`);
}
