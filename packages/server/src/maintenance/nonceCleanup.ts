import { deleteExpiredNonces } from '../auth/queries/deleteExpiredNonces.ts';
import type { Context } from '../context.ts';
import { createService } from './service.ts';

/** The nonces of robot signatures past their time window are deleted (a replay of them is refused as stale anyway). */
export function createNonceCleanup(ctx: Context, intervalMs: number) {
  return createService({
    name: 'nonce-cleanup',
    intervalMs,
    log: ctx.log,
    metrics: ctx.metrics,
    touched: (deleted: number) => deleted,
    runOnce: () => deleteExpiredNonces(ctx.db, { now: ctx.clock.now() }),
  });
}
