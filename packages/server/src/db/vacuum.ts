import type { Db } from './db.ts';

/** The tables whose rows change state many times; dead versions pile up in them. */
const churningTables = ['items', 'batches', 'requests', 'robot_nonces', 'events'];

/**
 * PGlite runs PostgreSQL as a single standalone backend, without the autovacuum workers a
 * server has, so dead row versions would pile up until every lease walks past them. Embedded
 * mode vacuums the tables that churn itself; on PostgreSQL autovacuum does it and this does nothing.
 */
export async function vacuumIfEmbedded(db: Db): Promise<boolean> {
  if (db.kind !== 'pglite') return false;
  await db.exec(`vacuum (analyze) ${churningTables.join(', ')}`);
  return true;
}
