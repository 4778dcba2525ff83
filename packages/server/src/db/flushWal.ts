import type { Queryable } from './db.ts';

/**
 * Waits until everything committed so far is on disk. A statement that commits without waiting for
 * its WAL flush (`synchronous_commit` off for its transaction) is visible at once but may be lost
 * in a database crash for a moment; this makes it durable. The WAL is one sequence: a commit that
 * flushes flushes every record before it. This one writes a logical decoding message (a WAL record
 * of a few bytes, in a transaction of its own, read by nothing), touching no table.
 */
export async function flushWal(db: Queryable): Promise<void> {
  await db.query(`select pg_logical_emit_message(true, 'refinery', 'flush')`);
}
