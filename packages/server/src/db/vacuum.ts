import type { Db } from './db.ts';

/** The tables whose rows change state many times; dead versions pile up in them. */
export const churningTables = ['items', 'batches', 'requests', 'robot_nonces', 'events', 'item_backlog'];

/** Whether the database has autovacuum workers: a PostgreSQL server with `autovacuum` on. */
export async function autovacuumRuns(db: Db): Promise<boolean> {
  if (db.kind === 'pglite') return false;
  const { rows } = await db.query<{ on: boolean }>(`select current_setting('autovacuum')::boolean as on`);
  return rows[0].on;
}

/**
 * Vacuums the tables that churn when nothing else does: PGlite runs PostgreSQL as a single
 * standalone backend, without the autovacuum workers a server has, and a server may have
 * `autovacuum = off`. Without it dead row versions pile up until every lease walks past them.
 * `skip_locked`: a table another process is vacuuming is left to it.
 */
export async function vacuumUnlessAutovacuum(db: Db): Promise<boolean> {
  if (await autovacuumRuns(db)) return false;
  await db.exec(`vacuum (analyze, skip_locked) ${churningTables.join(', ')}`);
  return true;
}
