import type { Queryable } from './db.ts';

/**
 * A FROM item that makes the statement's own transaction commit without waiting for its WAL flush
 * (`synchronous_commit` off for that transaction only): `... cross join ${commitUnflushed}`. What it
 * commits is visible at once, but may be lost in a database crash for a moment; flushWal makes it
 * durable.
 */
export const commitUnflushed = `(select set_config('synchronous_commit', 'off', true)) unflushed`;

/**
 * Waits until everything committed so far is on disk, commits made with commitUnflushed included.
 * The WAL is one sequence: a commit that flushes flushes every record before it. This one writes a
 * logical decoding message (a WAL record of a few bytes, in a transaction of its own, read by
 * nothing), touching no table.
 */
export async function flushWal(db: Queryable): Promise<void> {
  await db.query(`select pg_logical_emit_message(true, 'refinery', 'flush')`);
}
