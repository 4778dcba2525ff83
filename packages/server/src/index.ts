export { createRefinery, type Refinery, type RefineryOptions } from './refinery.ts';
export { loadConfig, type Config } from './config.ts';
export { manualClock, systemClock, type Clock } from './clock.ts';
export { openPglite } from './db/index.ts';
export { openPostgres } from './db/index.ts';
export { migrate } from './db/index.ts';
export type { Db, QueryOptions } from './db/index.ts';
export { Keyring } from './keys/index.ts';
export { openWhole, sealWhole } from './keys/index.ts';
