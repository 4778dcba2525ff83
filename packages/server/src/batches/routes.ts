import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { Batch, IdParams, LeaseQuery, maxLeaseWaitSeconds, parseDuration, RenewOut, RenewQuery, ResultsAccepted, ResultsIn } from '@refinery/protocol';
import { robotOf, signingRobotOf } from '../auth/authenticate.ts';
import type { Context } from '../context.ts';
import { errors } from '../errors.ts';
import { afterRequestsFinished } from '../requests/manifests.ts';
import { finishRequestsIfDone } from '../requests/queries/finishRequestsIfDone.ts';
import { notifyWork } from '../work/signals.ts';
import { refuseIfItemsClosed } from './closedItems.ts';
import { importResults } from './importResults.ts';
import { batchOut } from './batchOut.ts';
import { itemsFileCanFollowAnswer, leaseNewBatch, writeItemsFile } from './leaseBatch.ts';
import type { BatchRow } from './queries/batchRow.ts';
import type { LeasedBatch } from './queries/leaseItems.ts';
import { failBatchIfLeased } from './queries/failBatchIfLeased.ts';
import { getBatch } from './queries/getBatch.ts';
import { startBatchImportIfLeased } from './queries/startBatchImport.ts';
import { renewBatchLeaseIfLeased } from './queries/renewBatchLease.ts';
import { retryOrFailItems } from './queries/retryOrFailItems.ts';
import { sweeperDefaults } from './sweeper.ts';

const maxLeaseMs = 24 * 3600_000;
/** A long poll's end when its connection closes, given as the abort's reason: `abort()` alone builds a DOMException, with its stack, at every lease. */
const connectionClosed = new Error('the connection closed');

function leaseMsFrom(text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const ms = parseDuration(text)!;
  if (ms < 1000 || ms > maxLeaseMs) throw errors.invalidRequest('lease must be between 1 second and 24 hours');
  return ms;
}

export const batchRoutes: FastifyPluginAsync<{ ctx: Context }> = async (app, { ctx }) => {
  /** The caller's batch, or 404 (another robot's batch is as good as missing). */
  async function ownBatch(id: string, robotId: string): Promise<BatchRow> {
    const batch = await getBatch(ctx.db, { id, robotId });
    if (!batch) throw errors.notFound('batch');
    return batch;
  }

  /** Why a fenced move refused: 409 with a reason a robot author can act on. */
  function refusal(batch: BatchRow, leaseToken: string): never {
    if (batch.status === 'leased' && batch.lease_token !== leaseToken) throw errors.conflict('lease_token_mismatch', 'lease_token is not the token of this lease');
    if (batch.status === 'leased' || batch.status === 'expired') throw errors.conflict('lease_expired', 'the lease expired; the items were given back and nothing was imported');
    throw errors.conflict('results_already_posted', `results for this batch were posted already (it is ${batch.status}); nothing was imported`);
  }

  /**
   * Answers a lease with its new batch. The items file is written first, or, when it can follow
   * the answer (itemsFileCanFollowAnswer), once the answer has gone: the store holds the robot's
   * request for the file until then, and the write is off the dispatch path. If that write fails
   * the batch is given back (its items pending, the robot's calls for it refused as for a lapsed
   * lease).
   */
  async function answerWithBatch(reply: FastifyReply, leased: LeasedBatch, needs: string[]) {
    if (!itemsFileCanFollowAnswer(ctx, leased)) return reply.status(200).send(await batchOut(ctx, await writeItemsFile(ctx, leased, needs)));
    const written = writeItemsFile(ctx, leased, needs, { afterAnswer: true }).catch((err) =>
      ctx.log.error({ err, batch_id: leased.id }, 'could not write the items file of a batch already answered (its lease is undone, or lapses if that failed too)'),
    );
    reply.status(200).send(await batchOut(ctx, leased));
    await written;
    return reply;
  }

  app.post('/v1/batches/lease', {
    config: { access: 'robot' },
    schema: {
      tags: ['batches'],
      summary: 'Lease a batch: 200 with it, or 204 when nothing is pending (after waiting up to `wait`)',
      querystring: LeaseQuery,
      response: { 200: Batch, 204: { type: 'null', description: 'No work' } },
    },
    handler: async (request, reply) => {
      const robot = signingRobotOf(request);
      const q = request.query as LeaseQuery;
      const waitMs = q.wait === undefined ? 0 : parseDuration(q.wait)!;
      if (waitMs > maxLeaseWaitSeconds * 1000) throw errors.invalidRequest(`wait may be at most ${maxLeaseWaitSeconds} seconds`);
      if (robot.delivery.mode === 'push') throw errors.conflict('push_robot', `this robot's batches are pushed to its URL (${robot.delivery.url}); it does not lease them (docs/push.md)`);
      const leaseMs = leaseMsFrom(q.lease, robot.lease_ms);
      const limit = Math.min(q.limit ?? robot.max_batch_size, robot.max_batch_size);
      const closed = new AbortController();
      request.raw.once('close', () => closed.abort(connectionClosed));
      reply.raw.once('close', () => closed.abort(connectionClosed));
      const deadline = Date.now() + waitMs;
      for (;;) {
        const seen = ctx.work.wakeups(robot.id);
        if (robot.active) {
          const leased = await leaseNewBatch(ctx, robot, { limit, leaseMs });
          if (leased) return answerWithBatch(reply, leased, robot.needs);
        }
        const remaining = deadline - Date.now();
        if (remaining <= 0 || closed.signal.aborted) return reply.status(204).send();
        // A request created in this process meanwhile may hand its items over in a batch already leased.
        const handed = await ctx.work.waitFor(robot.id, Math.min(remaining, ctx.work.recheckMs), seen, closed.signal, { limit, leaseMs, needs: robot.needs });
        if (handed) return answerWithBatch(reply, handed, robot.needs);
      }
    },
  });

  app.get('/v1/batches/:id', {
    config: { access: 'robot' },
    schema: { tags: ['batches'], summary: 'A batch, its URLs signed afresh', params: IdParams, response: { 200: Batch } },
    handler: async (request) => batchOut(ctx, await ownBatch((request.params as { id: string }).id, robotOf(request))),
  });

  app.post('/v1/batches/:id/renew', {
    config: { access: 'robot' },
    schema: { tags: ['batches'], summary: 'Extend the lease; 409 once it has expired', params: IdParams, querystring: RenewQuery, response: { 200: RenewOut } },
    handler: async (request) => {
      const robot = signingRobotOf(request);
      const robotId = robot.id;
      const { id } = request.params as { id: string };
      const batch = await ownBatch(id, robotId);
      const leaseMs = leaseMsFrom((request.query as { lease?: string }).lease, robot.lease_ms);
      const expiresAt = await renewBatchLeaseIfLeased(ctx.db, { id, robotId, leaseMs, now: ctx.clock.now() });
      if (!expiresAt) refusal({ ...batch, status: batch.status === 'leased' ? 'expired' : batch.status }, batch.lease_token);
      return { id, lease_expires_at: expiresAt };
    },
  });

  app.post('/v1/batches/:id/results', {
    config: { access: 'robot' },
    schema: {
      tags: ['batches'],
      summary: 'Hand in the batch after uploading the results file (or report a batch-wide error); 202',
      params: IdParams,
      body: ResultsIn,
      response: { 202: ResultsAccepted },
    },
    handler: async (request, reply) => {
      const robotId = robotOf(request);
      const { id } = request.params as { id: string };
      const body = request.body as ResultsIn;
      const batch = await ownBatch(id, robotId);
      const now = ctx.clock.now();
      if (body.error) {
        const error = body.error;
        const failed = await ctx.db.transaction(async (tx) => {
          if (!(await failBatchIfLeased(tx, { id, robotId, leaseToken: body.lease_token, message: error.message, now }))) return null;
          const moved = await retryOrFailItems(tx, { batchIds: [id], fromStatus: 'leased', code: 'robot_error', message: error.message, retryable: error.retryable ?? false, now });
          await notifyWork(tx, moved.retriedRobotIds);
          return { moves: moved.moves, finished: await finishRequestsIfDone(tx, { requestIds: moved.requestIds, now }) };
        });
        if (failed === null) refusal(batch, body.lease_token);
        ctx.metrics.itemsMoved(failed.moves);
        afterRequestsFinished(ctx, failed.finished);
        return reply.status(202).send({ id, status: 'failed' });
      }
      if (batch.status === 'leased' && batch.lease_token === body.lease_token && batch.lease_expires_at > now) {
        const uploaded = await ctx.blobs.get(batch.results_key);
        if (!uploaded) throw errors.conflict('results_missing', 'no results file was uploaded to results_url; PUT it first, then post results');
        uploaded.destroy();
      }
      const started = await startBatchImportIfLeased(ctx.db, { id, robotId, leaseToken: body.lease_token, importMs: sweeperDefaults.importMs, now });
      if (!started) {
        await refuseIfItemsClosed(ctx.db, batch, body.lease_token, now);
        refusal(batch, body.lease_token);
      }
      void ctx.background.run('import', { batch_id: id }, () => importResults(ctx, id, started.context));
      return reply.status(202).send({ id, status: 'importing' });
    },
  });
};
