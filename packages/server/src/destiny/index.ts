/** The destiny capability's public face: what the rest of the server may use (a lint rule, .dependency-cruiser.cjs, keeps it so). */
export { destinyAutomationRoutes } from './automationRoutes.ts';
export { destinyDelivery, robotResultOf } from './push.ts';
export { referenceLineSql } from './queries/referenceLineSql.ts';
export { judgeDestinyLine, validationEntry } from './results.ts';
export { destinyRoutes } from './routes.ts';
export { verifyDestinySignature } from './signature.ts';
