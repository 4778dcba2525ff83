import { blobKeys } from '../blobs/index.ts';
import type { Context } from '../context.ts';
import { claimBatchFilesPastRetention, fromFirstBatch, type ClaimedBatchFiles } from './queries/claimBatchFilesPastRetention.ts';
import { markBatchFilesDeleted } from './queries/markBatchFilesDeleted.ts';

export const batchFilesCleanupDefaults = {
  /** Batches claimed per statement: their files go in one `deleteMany` (S3: a call per 1,000 keys). */
  pageSize: 1000,
  /** How long a process may take to delete a page's files before another may take them over. */
  claimMs: 5 * 60_000,
};

/**
 * Every key the batch's files may be at: those its row records and those its id makes (a report
 * is written before its key is recorded), so that a file written under either is not left behind.
 */
function keysOf(batch: ClaimedBatchFiles): string[] {
  const keys = [batch.items_key, batch.results_key, batch.report_key, blobKeys.items(batch.id), blobKeys.results(batch.id), blobKeys.report(batch.id)];
  return [...new Set(keys.filter((k): k is string => k !== null))];
}

/**
 * Deletes the files (items, results, report) of the batches that ended, with every request they
 * carried items of, at least `retentionMs` ago (docs/retention.md): a page of batches claimed in
 * one statement, their files deleted together, the batches marked in one statement. Any number
 * of processes may run it at once (each claims its own pages); a process that dies between
 * deleting and marking leaves the page to a later pass, which deletes again (a missing blob is no
 * error). Returns how many batches it marked.
 */
export async function deleteBatchFilesPastRetention(ctx: Context, p: { retentionMs: number; pageSize?: number; claimMs?: number }): Promise<number> {
  const { pageSize, claimMs } = { ...batchFilesCleanupDefaults, ...p };
  const now = ctx.clock.now();
  const endedBy = new Date(now.getTime() - p.retentionMs);
  let after = fromFirstBatch;
  let marked = 0;
  for (;;) {
    const page = await claimBatchFilesPastRetention(ctx.db, { now, endedBy, after, limit: pageSize, claimMs });
    if (page.length === 0) break;
    await ctx.blobs.deleteMany(page.flatMap(keysOf));
    marked += await markBatchFilesDeleted(ctx.db, { ids: page.map((b) => b.id), now: ctx.clock.now() });
    if (page.length < pageSize) break;
    const last = page[page.length - 1];
    after = { endedAt: last.ended_at, id: last.id };
  }
  return marked;
}
