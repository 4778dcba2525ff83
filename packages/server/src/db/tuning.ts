import type { Queryable } from './db.ts';

// How Refinery tunes PostgreSQL for its hot paths, in one place: domain code says how much it is
// about to write or that it commits for a waiting robot; what that costs in settings is decided
// here. The trades: docs/internals/0003-unflushed-commits.md, 0005-statement-planning.md.

/** From this many rows a create or a records import is bulk: more sort memory, fresh statistics. */
export const bulkRowsFrom = 10_000;

/** Whether a statement writing `rows` rows is bulk (bulkRowsFrom). */
export const isBulk = (rows: number): boolean => rows >= bulkRowsFrom;

/**
 * For a transaction about to write `rows` rows: a bulk one may sort, group and hash in memory
 * (PostgreSQL's default of 4 MB spills 100,000 ids to disk). Must run inside the transaction.
 */
export async function tuneForRows(db: Queryable, rows: number): Promise<void> {
  if (isBulk(rows)) await db.query(`set local work_mem = '64MB'`);
}

/** A create of at most this many ids is planned once, as index lookups (QueryOptions.lookup). */
const lookupRowsAtMost = 100;

/** How a statement over `rows` ids is planned: small ones once, as lookups. */
export const planFor = (rows: number): { prepared: true; lookup: boolean } => ({ prepared: true, lookup: rows <= lookupRowsAtMost });

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
