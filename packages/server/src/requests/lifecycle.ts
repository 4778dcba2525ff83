import type { Context } from '../context.ts';
import { errors } from '../errors.ts';
import { afterRequestsFinished } from './manifests.ts';
import { cancelItemsIfRequestOpen } from './queries/cancelItemsIfRequestOpen.ts';
import { expireItemsOfOverdueRequests } from './queries/expireItemsOfOverdueRequests.ts';
import { finishOpenRequestsAs } from './queries/finishRequestsAs.ts';
import { getRequest } from './queries/getRequest.ts';
import { lockBacklogs } from './queries/lockBacklogs.ts';
import { writeBacklogSlices } from './queries/writeBacklogSlices.ts';
import type { RequestRow } from './queries/requestRow.ts';

/** Requests expired per statement of the deadlines service. */
const expireLimit = 500;

/**
 * Cancels a request: its unfinished items become `cancelled` and the request `cancelled`, in one
 * transaction, with its `request.finished` event. Items still in its backlog are written
 * (docs/large-requests.md) and cancelled with the rest. Cancelling a cancelled request again changes
 * nothing and returns it; a request that finished otherwise (completed, failed, expired) is 409
 * `already_finished`.
 */
export async function cancelRequest(ctx: Pick<Context, 'background' | 'blobs' | 'clock' | 'db' | 'log' | 'metrics'>, requestId: string): Promise<RequestRow> {
  const now = ctx.clock.now();
  const finished = await ctx.db.transaction(async (tx) => {
    const backlogs = await lockBacklogs(tx, { requestIds: [requestId] });
    if (!(await cancelItemsIfRequestOpen(tx, { requestId, now }))) return [];
    if (backlogs.length > 0) {
      await writeBacklogSlices(tx, { now, requestIds: backlogs });
      await cancelItemsIfRequestOpen(tx, { requestId, now });
    }
    return finishOpenRequestsAs(tx, { requestIds: [requestId], status: 'cancelled', now });
  });
  afterRequestsFinished(ctx, finished);
  const row = (await getRequest(ctx.db, { id: requestId }))!;
  if (row.status !== 'cancelled') throw errors.of('already_finished', `the request already finished (it is ${row.status}); there is nothing to cancel`);
  return row;
}

/**
 * The deadlines service's pass (maintenance/): open requests whose `expires_at` has passed get their
 * unfinished items `expired` (code `request_expired`) and become `expired`, exactly once, with
 * their `request.finished` event; items still in their backlogs are written and expired with them,
 * as the cancel does. Returns how many requests expired.
 */
export async function expireOverdueRequests(ctx: Pick<Context, 'background' | 'blobs' | 'clock' | 'db' | 'log' | 'metrics'>): Promise<number> {
  const now = ctx.clock.now();
  const finished = await ctx.db.transaction(async (tx) => {
    const backlogs = await lockBacklogs(tx, { overdueAt: now });
    const due = await expireItemsOfOverdueRequests(tx, { now, limit: expireLimit });
    if (backlogs.length > 0) {
      // The items just written are expired with the rest.
      await writeBacklogSlices(tx, { now, requestIds: backlogs });
      due.push(...(await expireItemsOfOverdueRequests(tx, { now, limit: expireLimit })));
    }
    return finishOpenRequestsAs(tx, { requestIds: due, status: 'expired', now });
  });
  afterRequestsFinished(ctx, finished);
  if (finished.length > 0) ctx.log.info({ requests: finished.length }, 'requests expired');
  return finished.length;
}
