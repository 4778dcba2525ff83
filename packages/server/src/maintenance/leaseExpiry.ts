import { expireLapsedLeases, retryOrFailItems } from '../batches/index.ts';
import type { Context } from '../context.ts';
import { afterRequestsFinished, finishRequestsIfDone } from '../requests/index.ts';
import { notifyRetries } from '../work/index.ts';
import { createChore } from './service.ts';

/** Batches handled per statement. */
const batchLimit = 500;

/**
 * Lapsed leases give their items back (attempt + 1, after a backoff) or fail them with
 * `lease_expired`, and the requests that leaves with no open item finish. Guarded by the batch's
 * status, so any number of processes may run it at once.
 */
export function createLeaseExpiry(ctx: Context, intervalMs: number) {
  return createChore(ctx, 'lease-expiry', intervalMs, async () => {
    const now = ctx.clock.now();
    const { expired, moves, done } = await ctx.db.transaction(async (tx) => {
      const expired = await expireLapsedLeases(tx, { now, limit: batchLimit });
      const released = await retryOrFailItems(tx, { batchIds: expired.map((b) => b.id), code: 'lease_expired', message: 'the lease expired before results arrived', retryable: true, now });
      await notifyRetries(tx, released.retries);
      const done = await finishRequestsIfDone(tx, { requestIds: released.requestIds, now });
      return { expired, moves: released.moves, done };
    });
    for (const { robot_id: robot } of expired) ctx.metrics.leaseExpiries.inc({ robot });
    ctx.metrics.itemsMoved(moves);
    afterRequestsFinished(ctx, done);
    if (expired.length > 0) ctx.log.info({ batches: expired.length }, 'leases expired');
    return expired.length;
  });
}
