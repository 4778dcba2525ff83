export { createRefinery, type Refinery, type RefineryOptions } from './refinery.ts';
export { loadConfig, type Config } from './config.ts';
export { manualClock, systemClock, type Clock } from './clock.ts';
export { openPglite } from './db/pglite.ts';
export { openPostgres } from './db/postgres.ts';
export { migrate } from './db/migrate.ts';
export type { Db, QueryOptions } from './db/db.ts';
export { Keyring } from './keys/keyring.ts';
export { openWhole, sealWhole } from './keys/blobCipher.ts';
