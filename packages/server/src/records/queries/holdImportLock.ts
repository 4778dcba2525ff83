import type { Queryable } from '../../db/index.ts';

/** Any constant: the advisory lock of holdImportLock. */
const importLockKey = 727_002;

/**
 * Takes, until the transaction ends, the lock that records imports and the retention cleanup's
 * deletes each hold: two imports never race for one identifier, and an import never gives
 * identifiers to a record the cleanup is deleting (identifiers have no foreign key to their
 * record: 013_record_identifiers_without_record_fk.sql).
 */
export async function holdImportLock(db: Queryable): Promise<void> {
  await db.query('select pg_advisory_xact_lock($1::bigint)', [importLockKey]);
}
