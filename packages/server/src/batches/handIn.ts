import { blobExists } from '../blobs/index.ts';
import type { Context } from '../context.ts';
import { errors } from '../errors.ts';
import { afterRequestsFinished, expireOverdueRequests, finishRequestsIfDone } from '../requests/index.ts';
import { notifyRetries } from '../work/index.ts';
import { refuseIfItemsClosed } from './closedItems.ts';
import { importResults } from './importResults.ts';
import type { BatchRow } from './queries/batchRow.ts';
import { failBatchIfLeased } from './queries/failBatchIfLeased.ts';
import { getBatch } from './queries/getBatch.ts';
import { retryOrFailItems } from './queries/retryOrFailItems.ts';
import { startBatchImportIfLeased, type StartedImport } from './queries/startBatchImport.ts';

/**
 * The fence (startBatchImportIfLeased). A batch holding an item of a request past its deadline that
 * the deadlines service has not expired yet does not move with it: that service's pass runs first,
 * as it would have a moment earlier, and the fence is tried once more.
 */
export async function startImportIfLeased(
  ctx: Pick<Context, 'background' | 'blobs' | 'clock' | 'db' | 'log' | 'metrics'>,
  p: { id: string; robotId: string; leaseToken: string; importLeaseMs: number; now: Date },
): Promise<StartedImport | null> {
  const started = await startBatchImportIfLeased(ctx.db, p);
  if (started !== 'overdue') return started;
  await expireOverdueRequests(ctx);
  const again = await startBatchImportIfLeased(ctx.db, p);
  return again === 'overdue' ? null : again;
}

/** Why a fenced move refused: 409 with a reason a robot author can act on. */
export function refusal(batch: BatchRow, leaseToken: string): never {
  if (batch.status === 'leased' && batch.lease_token !== leaseToken) throw errors.of('lease_token_mismatch', 'lease_token is not the token of this lease');
  if (batch.status === 'leased' || batch.status === 'expired') throw errors.of('lease_expired', 'the lease expired; the items were given back and nothing was imported');
  throw errors.of('results_already_posted', `results for this batch were posted already (it is ${batch.status}); nothing was imported`);
}

/**
 * How a hand-in answers the same hand-in repeated with the lease's token (results after results, or
 * an error after an error: a robot's retry of a post whose answer it lost): `accept` answers it as
 * the first was, changing nothing (Refinery's protocol); `refuse` refuses it as any other hand-in
 * after the first (DESTINY's documented answer to a second post: docs/destiny.md).
 */
export type RepeatedHandIn = 'accept' | 'refuse';

/**
 * After a fenced move refused: the batch as it is now, if `repeat` accepts this hand-in as a
 * repetition of the one that moved it; otherwise the refusal, told from the batch as it is now.
 */
async function repeatedOrRefused(ctx: Pick<Context, 'clock' | 'db'>, batch: BatchRow, p: { leaseToken: string; error: boolean; repeat: RepeatedHandIn }): Promise<BatchRow> {
  const current = (await getBatch(ctx.db, { id: batch.id, robotId: batch.robot_id })) ?? batch;
  const repeated = current.lease_token === p.leaseToken && (p.error ? current.status === 'failed' : current.status === 'importing' || current.status === 'completed');
  if (repeated && p.repeat === 'accept') return current;
  if (!p.error) await refuseIfItemsClosed(ctx.db, current, p.leaseToken, ctx.clock.now());
  refusal(current, p.leaseToken);
}

/**
 * A robot's batch-wide error, fenced like results (409 when the lease no longer holds): the batch
 * fails, its items go back to pending after a backoff while `retryable` and attempts remain, else
 * fail with the robot's message, and the requests with nothing left open finish. Answers the
 * batch's status: `failed`, or the batch's as it is for a repeat `repeat` accepts.
 */
export async function failLeasedBatch(ctx: Pick<Context, 'background' | 'blobs' | 'clock' | 'db' | 'log' | 'metrics'>, batch: BatchRow, p: { leaseToken: string; message: string; retryable: boolean; repeat: RepeatedHandIn }): Promise<BatchRow['status']> {
  const now = ctx.clock.now();
  const failed = await ctx.db.transaction(async (tx) => {
    if (!(await failBatchIfLeased(tx, { id: batch.id, robotId: batch.robot_id, leaseToken: p.leaseToken, message: p.message, now }))) return null;
    const moved = await retryOrFailItems(tx, { batchIds: [batch.id], code: 'robot_error', message: p.message, retryable: p.retryable, now });
    await notifyRetries(tx, moved.retries);
    return { moves: moved.moves, finished: await finishRequestsIfDone(tx, { requestIds: moved.requestIds, now }) };
  });
  if (failed === null) return (await repeatedOrRefused(ctx, batch, { leaseToken: p.leaseToken, error: true, repeat: p.repeat })).status;
  ctx.metrics.itemsMoved(failed.moves);
  afterRequestsFinished(ctx, failed.finished);
  return 'failed';
}

/**
 * Hands in a batch whose results file the robot uploaded: the fence moves it to `importing`, and
 * the import runs after the answer. 409 when no results file was uploaded, when the lease no
 * longer holds (or the results were posted already, unless `repeat` accepts that), or when every
 * item closed with its request. Answers the batch's status: `importing`, or the batch's as it is
 * for a repeat `repeat` accepts.
 */
export async function startResultsImport(ctx: Pick<Context, 'background' | 'blobs' | 'clock' | 'config' | 'db' | 'log' | 'metrics'>, batch: BatchRow, p: { leaseToken: string; repeat: RepeatedHandIn }): Promise<BatchRow['status']> {
  const now = ctx.clock.now();
  if (batch.status === 'leased' && batch.lease_token === p.leaseToken && batch.lease_expires_at > now) {
    if (!(await blobExists(ctx.blobs, batch.results_key))) throw errors.of('results_missing', 'no results file was uploaded to results_url; PUT it first, then post results');
  }
  const started = await startImportIfLeased(ctx, { id: batch.id, robotId: batch.robot_id, leaseToken: p.leaseToken, importLeaseMs: ctx.config.importLeaseMs, now });
  if (!started) return (await repeatedOrRefused(ctx, batch, { leaseToken: p.leaseToken, error: false, repeat: p.repeat })).status;
  void ctx.background.run('import', { batch_id: batch.id }, () => importResults(ctx, batch.id, started.context));
  return 'importing';
}
