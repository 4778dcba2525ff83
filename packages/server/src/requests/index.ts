/** The requests capability's public face: what the rest of the server may use (a lint rule, .dependency-cruiser.cjs, keeps it so). */
export { writeBacklog, writeBacklogOf } from './backlog.ts';
export { createRequest } from './createRequest.ts';
export { createRequestByQuery } from './createRequestByQuery.ts';
export { afterRequestsFinished, finishRequestsIfDone } from './finish.ts';
export { expireOverdueRequests } from './lifecycle.ts';
export { writePendingManifests } from './manifests.ts';
export { requestIsOpen } from './open.ts';
export { countBacklogIds } from './queries/countBacklogIds.ts';
export { getRequest } from './queries/getRequest.ts';
export { unpackedIdsSql } from './queries/itemFates.ts';
export { listItems } from './queries/listItems.ts';
export { listOpenRequestsWithoutOpenItems } from './queries/listOpenRequestsWithoutOpenItems.ts';
export { priorityOf, type RequestRow } from './queries/requestRow.ts';
export { setRequestSource } from './queries/setRequestSource.ts';
export { RecordIdList, parseRequestBody } from './requestBody.ts';
export { requestRoutes, visibleRequestOf } from './routes.ts';
