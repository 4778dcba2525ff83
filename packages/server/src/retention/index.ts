/** The retention capability's public face: what the rest of the server may use (a lint rule, .dependency-cruiser.cjs, keeps it so). */
export { createCleanup } from './cleanup.ts';
export { retentionRoutes } from './routes.ts';
