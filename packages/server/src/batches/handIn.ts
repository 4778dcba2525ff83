import type { Context } from '../context.ts';
import { errors } from '../errors.ts';
import { afterRequestsFinished } from '../requests/manifests.ts';
import { finishRequestsIfDone } from '../requests/queries/finishRequestsIfDone.ts';
import { notifyWork } from '../work/signals.ts';
import { refuseIfItemsClosed } from './closedItems.ts';
import { importResults } from './importResults.ts';
import type { BatchRow } from './queries/batchRow.ts';
import { failBatchIfLeased } from './queries/failBatchIfLeased.ts';
import { retryOrFailItems } from './queries/retryOrFailItems.ts';
import { startBatchImportIfLeased } from './queries/startBatchImport.ts';
import { sweeperDefaults } from './sweeper.ts';

/** Why a fenced move refused: 409 with a reason a robot author can act on. */
export function refusal(batch: BatchRow, leaseToken: string): never {
  if (batch.status === 'leased' && batch.lease_token !== leaseToken) throw errors.conflict('lease_token_mismatch', 'lease_token is not the token of this lease');
  if (batch.status === 'leased' || batch.status === 'expired') throw errors.conflict('lease_expired', 'the lease expired; the items were given back and nothing was imported');
  throw errors.conflict('results_already_posted', `results for this batch were posted already (it is ${batch.status}); nothing was imported`);
}

/**
 * A robot's batch-wide error, fenced like results (409 when the lease no longer holds): the batch
 * fails, its items go back to pending after a backoff while `retryable` and attempts remain, else
 * fail with the robot's message, and the requests with nothing left open finish.
 */
export async function failLeasedBatch(ctx: Context, batch: BatchRow, p: { leaseToken: string; message: string; retryable: boolean }): Promise<void> {
  const now = ctx.clock.now();
  const failed = await ctx.db.transaction(async (tx) => {
    if (!(await failBatchIfLeased(tx, { id: batch.id, robotId: batch.robot_id, leaseToken: p.leaseToken, message: p.message, now }))) return null;
    const moved = await retryOrFailItems(tx, { batchIds: [batch.id], fromStatus: 'leased', code: 'robot_error', message: p.message, retryable: p.retryable, now });
    await notifyWork(tx, moved.retriedRobotIds);
    return { moves: moved.moves, finished: await finishRequestsIfDone(tx, { requestIds: moved.requestIds, now }) };
  });
  if (failed === null) refusal(batch, p.leaseToken);
  ctx.metrics.itemsMoved(failed.moves);
  afterRequestsFinished(ctx, failed.finished);
}

/**
 * Hands in a batch whose results file the robot uploaded: the fence moves it to `importing`, and
 * the import runs after the answer. 409 when no results file was uploaded, when the lease no
 * longer holds (or the results were posted already), or when every item closed with its request.
 */
export async function startResultsImport(ctx: Context, batch: BatchRow, leaseToken: string): Promise<void> {
  const now = ctx.clock.now();
  if (batch.status === 'leased' && batch.lease_token === leaseToken && batch.lease_expires_at > now) {
    const uploaded = await ctx.blobs.get(batch.results_key);
    if (!uploaded) throw errors.conflict('results_missing', 'no results file was uploaded to results_url; PUT it first, then post results');
    uploaded.destroy();
  }
  const started = await startBatchImportIfLeased(ctx.db, { id: batch.id, robotId: batch.robot_id, leaseToken, importMs: sweeperDefaults.importMs, now });
  if (!started) {
    await refuseIfItemsClosed(ctx.db, batch, leaseToken, now);
    refusal(batch, leaseToken);
  }
  void ctx.background.run('import', { batch_id: batch.id }, () => importResults(ctx, batch.id, started.context));
}
