import { deleteExpiredNonces } from '../auth/queries/deleteExpiredNonces.ts';
import type { Context } from '../context.ts';
import { vacuumUnlessAutovacuum } from '../db/vacuum.ts';
import { createLoop } from '../loop.ts';
import { afterRequestsFinished, finishRequestsIfDone } from '../requests/finish.ts';
import { writePendingManifests } from '../requests/manifests.ts';
import { writeBacklog } from '../requests/backlog.ts';
import { expireOverdueRequests } from '../requests/lifecycle.ts';
import { listOpenRequestsWithoutOpenItems } from '../requests/queries/listOpenRequestsWithoutOpenItems.ts';
import { notifyRetries } from '../work/signals.ts';
import { importResults } from './importResults.ts';
import { claimStaleImports } from './queries/claimStaleImports.ts';
import { expireLapsedLeases } from './queries/expireLapsedLeases.ts';
import { retryOrFailItems } from './queries/retryOrFailItems.ts';

export const sweeperDefaults = {
  /** Time between sweeps, jittered ±20 %. */
  intervalMs: 1000,
  /** Batches handled per statement. */
  batchLimit: 500,
  /**
   * Imports resumed per sweep, run side by side: each renews its import lease from the start, and
   * the sweep waits for them (a sweep that claimed hundreds and ran them one by one would see the
   * leases of the last ones lapse before they began).
   */
  importsPerSweep: 4,
  /** Time between vacuums of the tables that churn, where no autovacuum runs (PGlite, or `autovacuum = off`). */
  vacuumIntervalMs: 2 * 60_000,
};
export type SweeperConfig = typeof sweeperDefaults;

export interface SweepResult {
  expiredBatches: number;
  resumedImports: number;
  manifestsWritten: number;
}

/**
 * The lease sweeper and its chores: lapsed leases give their items back (attempt + 1, after a
 * backoff) or fail them with `lease_expired`; open requests whose items are all final (their
 * process died before it finished them) are finished; imports whose lease lapsed resume; backlogs
 * left by a process that died are written; missing manifests are written.
 * Every step is guarded, so any number of processes may sweep at once.
 */
export function createSweeper({ ctx, config = {} }: { ctx: Context; config?: Partial<SweeperConfig> }) {
  const settings = { ...sweeperDefaults, ...config };
  let lastVacuum = ctx.clock.now().getTime();

  async function runOnce(): Promise<SweepResult> {
    const now = ctx.clock.now();
    const finished = await ctx.db.transaction(async (tx) => {
      const expired = await expireLapsedLeases(tx, { now, limit: settings.batchLimit });
      const batchIds = expired.map((b) => b.id);
      const released = await retryOrFailItems(tx, { batchIds, fromStatus: 'leased', code: 'lease_expired', message: 'the lease expired before results arrived', retryable: true, now });
      await notifyRetries(tx, released.retries);
      const leftOpen = await listOpenRequestsWithoutOpenItems(tx, { limit: settings.batchLimit });
      const done = await finishRequestsIfDone(tx, { requestIds: [...released.requestIds, ...leftOpen], now });
      return { expired, batchIds, moves: released.moves, done };
    });
    for (const { robot_id: robot } of finished.expired) ctx.metrics.leaseExpiries.inc({ robot });
    ctx.metrics.itemsMoved(finished.moves);
    afterRequestsFinished(ctx, finished.done);
    await expireOverdueRequests(ctx);
    const stale = await claimStaleImports(ctx.db, { now, importLeaseMs: ctx.config.importLeaseMs, limit: settings.importsPerSweep });
    await Promise.all(stale.map((batchId) => ctx.background.run('import', { batch_id: batchId }, () => importResults(ctx, batchId))));
    // Not awaited: a backlog of a million items takes seconds, and the next sweep's steps do not wait on it.
    void ctx.background.run('backlog', {}, () => writeBacklog(ctx));
    const manifestsWritten = await writePendingManifests(ctx);
    await deleteExpiredNonces(ctx.db, { now });
    if (now.getTime() - lastVacuum >= settings.vacuumIntervalMs) {
      lastVacuum = now.getTime();
      await vacuumUnlessAutovacuum(ctx.db);
    }
    if (finished.batchIds.length > 0) ctx.log.info({ batches: finished.batchIds.length }, 'leases expired');
    return { expiredBatches: finished.batchIds.length, resumedImports: stale.length, manifestsWritten };
  }

  return createLoop({ name: 'sweep', intervalMs: settings.intervalMs, log: ctx.log, runOnce });
}
export type Sweeper = ReturnType<typeof createSweeper>;
