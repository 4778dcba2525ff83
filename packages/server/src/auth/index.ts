/** The auth capability's public face: what the rest of the server may use (a lint rule, .dependency-cruiser.cjs, keeps it so). */
export { createApiKey, hashApiKey } from './apiKeys.ts';
export { authentication, callerOwns, keyOf, robotOf, signingRobotOf, type Access } from './authenticate.ts';
export { findSigner } from './findSigner.ts';
export { deleteExpiredNonces } from './queries/deleteExpiredNonces.ts';
export { getApiKeyByHash } from './queries/getApiKeyByHash.ts';
export { getRobotSecrets } from './queries/getRobotSecrets.ts';
export { type SigningRobot } from './queries/getSigningRobot.ts';
export { type ApiKeyRow } from './queries/insertApiKey.ts';
export { insertNonceIfNew } from './queries/insertNonceIfNew.ts';
export { Recent } from './recent.ts';
export { authRoutes } from './routes.ts';
