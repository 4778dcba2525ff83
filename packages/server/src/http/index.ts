/** The http capability's public face: what the rest of the server may use (a lint rule, .dependency-cruiser.cjs, keeps it so). */
export { checkIntCursor, checkUuidCursor, decodeCursor, page } from './cursor.ts';
export { clientErrors, frameworkErrors, installErrorHandler, validationMessage } from './errorHandler.ts';
export { openapiOptions, servers } from './openapi.ts';
export { parseStorableJson, refuseUnstorable } from './storableJsonBodies.ts';
export { authenticationPluginName, parsedBody, routePlugin } from './typeProvider.ts';
export { guardUnfinishedBodies } from './unfinishedBodies.ts';
export { strictAjv, validatorCompiler } from './validation.ts';
