import { requestFinalStatuses, type RequestStatus, type RetryIn } from '@refinery/protocol';
import type { Context } from '../context.ts';
import { errors } from '../errors.ts';
import { createRequest } from './createRequest.ts';
import { packFailedRecordIds } from './queries/packFailedRecordIds.ts';
import { priorityOf, type RequestRow } from './queries/requestRow.ts';
import { RecordIdList } from './requestBody.ts';

/**
 * Retries a finished request's failed items (all of them, or those `record_ids` names) as a new
 * request that names it in `retry_of` (docs/retrying-requests.md): the original keeps its final
 * state, its manifest and its one `request.finished`; the retry has its own. The retry is made
 * like any request (createRequest: one statement, its records checked again), for the original's
 * robot and owner, with its priority and callback URL unless the body gives a priority.
 * A request is retried at most once: the same call again returns that retry (`created` false), a
 * different one is 409 `already_retried`, in one process or many (the retry_of unique index).
 */
export async function retryRequest(ctx: Pick<Context, 'background' | 'blobs' | 'clock' | 'config' | 'db' | 'log' | 'metrics' | 'work'>, original: RequestRow, body: RetryIn): Promise<{ request: RequestRow; created: boolean }> {
  if (!(requestFinalStatuses as readonly RequestStatus[]).includes(original.status)) throw errors.notFinished(original.id, original.status);
  const only = body.record_ids ? [...new Set(body.record_ids.map((id) => id.toLowerCase()))] : null;
  const { packed, notFailed } = await packFailedRecordIds(ctx.db, { requestId: original.id, only });
  if (notFailed.length > 0) throw errors.itemsNotFailed(notFailed);
  if (packed.byteLength === 0) throw errors.nothingToRetry(original.id);
  return createRequest(ctx, {
    body: {
      robot_id: original.robot_id,
      record_ids: RecordIdList.fromPacked(packed),
      priority: body.priority ?? priorityOf(original.priority),
      expires_at: body.expires_at,
      ttl: body.ttl,
      callback_url: original.callback_url ?? undefined,
    },
    requestedBy: original.requested_by,
    idempotencyKey: null,
    retryOf: original.id,
  });
}
