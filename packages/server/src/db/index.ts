/** The db capability's public face: what the rest of the server may use (a lint rule, .dependency-cruiser.cjs, keeps it so). */
export { isUniqueViolation, type Db, type QueryOptions, type Queryable } from './db.ts';
export { migrate } from './migrate.ts';
export { openPglite } from './pglite.ts';
export { openPostgres } from './postgres.ts';
export { mayBeUnstorable, storableText, whyUnstorable, type Unstorable } from './storableJson.ts';
export { commitUnflushed, flushWal, isBulk, planFor, tuneForRows } from './tuning.ts';
export { databaseUnavailable } from './unavailable.ts';
export { autovacuumRuns, churningTables, vacuumUnlessAutovacuum } from './vacuum.ts';
