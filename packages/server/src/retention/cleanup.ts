import { deleteBatchFilesPastRetention } from '../batches/index.ts';
import type { Context } from '../context.ts';
import { createService } from '../maintenance/index.ts';
import { afterRequestsFinished, finishRequestsIfDone } from '../requests/index.ts';
import { deleteAgedOutRecords } from './queries/deleteAgedOutRecords.ts';

export const cleanupDefaults = {
  /** Time between passes, jittered ±20 % (the media lifecycle's scheduler ran every 300 s). */
  intervalMs: 5 * 60_000,
  /** Records removed, or batches whose files are deleted, per statement; a pass repeats statements until none is left. */
  batchLimit: 1000,
};
export type CleanupConfig = typeof cleanupDefaults;

export interface CleanupResult {
  /** Records removed, with their identifiers and enhancements. */
  removedRecords: number;
  /** Requests whose pending items were expired because their record was removed. */
  touchedRequests: number;
  /** Batches whose files (items, results, report) were deleted, their retention past. */
  batchFilesDeleted: number;
}

/**
 * The retention cleanup: removes records that aged out (older than their type's `aged_out`, or
 * past their own `expires_at`), with their identifiers and enhancements, and expires the pending
 * items that named them; then deletes the files of the batches that ended, with their requests,
 * `REFINERY_BATCH_FILES_RETENTION` ago (a record has no blob of its own). Any number of processes
 * may run it at once: a record is deleted once, a batch's files by one of them.
 */
export function createCleanup({ ctx, config = {} }: { ctx: Context; config?: Partial<CleanupConfig> }) {
  const settings = { ...cleanupDefaults, ...config };

  async function runOnce(): Promise<CleanupResult> {
    const now = ctx.clock.now();
    const byType: Record<string, number> = {};
    let removedRecords = 0;
    const touched = new Set<string>();
    for (;;) {
      const pass = await ctx.db.transaction(async (tx) => {
        const { removed, requestIds } = await deleteAgedOutRecords(tx, { now, limit: settings.batchLimit });
        const finished = await finishRequestsIfDone(tx, { requestIds, now });
        return { removed, requestIds, finished };
      });
      afterRequestsFinished(ctx, pass.finished);
      for (const r of pass.removed) byType[r.type] = (byType[r.type] ?? 0) + 1;
      for (const id of pass.requestIds) touched.add(id);
      removedRecords += pass.removed.length;
      if (pass.removed.length < settings.batchLimit) break;
    }
    if (removedRecords > 0) ctx.log.info({ records: removedRecords, by_type: byType, requests_touched: touched.size }, 'cleanup removed aged-out records');
    const batchFilesDeleted = await deleteBatchFilesPastRetention(ctx, { retentionMs: ctx.config.batchFilesRetentionMs, pageSize: settings.batchLimit });
    if (batchFilesDeleted > 0) ctx.log.info({ batches: batchFilesDeleted }, 'cleanup deleted the files of batches past their retention');
    return { removedRecords, touchedRequests: touched.size, batchFilesDeleted };
  }

  return createService({ name: 'retention-cleanup', intervalMs: settings.intervalMs, log: ctx.log, metrics: ctx.metrics, runOnce, touched: (r) => r.removedRecords + r.batchFilesDeleted });
}
export type Cleanup = ReturnType<typeof createCleanup>;
