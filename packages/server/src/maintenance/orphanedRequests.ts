import type { Context } from '../context.ts';
import { afterRequestsFinished, finishRequestsIfDone, listOpenRequestsWithoutOpenItems } from '../requests/index.ts';
import { createChore } from './service.ts';

/** Requests looked at per pass. */
const limit = 500;

/**
 * Open requests whose items are all final, their process having died before it finished them,
 * are finished, exactly once (finishRequestsIfDone guards it).
 */
export function createOrphanedRequests(ctx: Context, intervalMs: number) {
  return createChore(ctx, 'orphaned-requests', intervalMs, async () => {
    const now = ctx.clock.now();
    const done = await ctx.db.transaction(async (tx) => finishRequestsIfDone(tx, { requestIds: await listOpenRequestsWithoutOpenItems(tx, { limit }), now }));
    afterRequestsFinished(ctx, done);
    return done.length;
  });
}
