/** The keys capability's public face: what the rest of the server may use (a lint rule, .dependency-cruiser.cjs, keeps it so). */
export { openStream, openWhole, openWholeInPieces, sealPieces, sealWhole, sealWholeInPieces } from './blobCipher.ts';
export { Keyring, isSealed } from './keyring.ts';
export { loadKeyring } from './loadKeyring.ts';
export { loadMasterKey } from './masterKey.ts';
export { sealPlainSecrets } from './sealPlainSecrets.ts';
export { newWebhookSecret, openRobotSecret, openWebhookSecret, sealRobotSecret, sealWebhookSecret } from './secrets.ts';
