/** The records capability's public face: what the rest of the server may use (a lint rule, .dependency-cruiser.cjs, keeps it so). */
export { createRecordSealer, openItemsText } from './encryption.ts';
export { getEncryption, markTypeEncrypted, type EncryptionRow } from './queries/encryptedTypes.ts';
export { findMissingRecords } from './queries/findMissingRecords.ts';
export { getRecordWithEnhancements } from './queries/getRecord.ts';
export { holdImportLock } from './queries/holdImportLock.ts';
export { recordRoutes } from './routes.ts';
export { checkFilter } from './search/checkFilter.ts';
export { compileFilter } from './search/compileFilter.ts';
export { parseQuery } from './search/parseQuery.ts';
export { searchRoutes } from './search/routes.ts';
export { countMatches, filterOf, refuseEncryptedContent, withinSearchTimeout } from './search/runQuery.ts';
export { clearSpoolDir } from './spool.ts';
