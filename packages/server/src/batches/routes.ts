import type { FastifyReply } from 'fastify';
import { Batch, IdParams, LeaseHeaders, LeaseQuery, maxLeaseWaitSeconds, parseDuration, RenewOut, RenewQuery, ResultsAccepted, ResultsIn } from '@refinery/protocol';
import { robotOf, signingRobotOf } from '../auth/index.ts';
import { blobExists } from '../blobs/index.ts';
import type { Context } from '../context.ts';
import { isUniqueViolation } from '../db/index.ts';
import { errors } from '../errors.ts';
import type { RobotRow } from '../robots/index.ts';
import { batchOut } from './batchOut.ts';
import { failLeasedBatch, refusal, startResultsImport } from './handIn.ts';
import { itemsFileCanFollowAnswer, leaseNewBatch, writeItemsFile } from './leaseBatch.ts';
import { batchOfLeaseKey } from './queries/batchOfLeaseKey.ts';
import { itemsFileLines } from './queries/itemsFileLines.ts';
import type { BatchRow } from './queries/batchRow.ts';
import type { LeasedBatch } from './queries/leaseItems.ts';
import { getBatch } from './queries/getBatch.ts';
import { renewBatchLeaseIfLeased } from './queries/renewBatchLease.ts';
import { routePlugin } from '../http/index.ts';

const maxLeaseMs = 24 * 3600_000;
/** A long poll's end when its connection closes, given as the abort's reason: `abort()` alone builds a DOMException, with its stack, at every lease. */
const connectionClosed = new Error('the connection closed');
const serverClosing = new Error('the server is closing');

function leaseMsFrom(text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const ms = parseDuration(text)!;
  if (ms < 1000 || ms > maxLeaseMs) throw errors.invalidRequest('lease must be between 1 second and 24 hours');
  return ms;
}

export const batchRoutes = routePlugin<{ ctx: Pick<Context, 'background' | 'blobs' | 'clock' | 'config' | 'db' | 'keys' | 'log' | 'metrics' | 'work'> }>('batches', async (app, { ctx }) => {
  /** Long polls waiting, answered 204 at once when the server closes (one would hold its close up to its `wait`). */
  const polls = new Set<AbortController>();
  app.addHook('preClose', async () => {
    for (const poll of polls) poll.abort(serverClosing);
  });

  /** The caller's batch, or 404 (another robot's batch is as good as missing). */
  async function ownBatch(id: string, robotId: string): Promise<BatchRow> {
    const batch = await getBatch(ctx.db, { id, robotId });
    if (!batch) throw errors.notFound('batch');
    return batch;
  }

  /**
   * Answers a lease with its new batch. The items file is written first, or, when it can follow
   * the answer (itemsFileCanFollowAnswer), once the answer has gone: the store holds the robot's
   * request for the file until then, and the write is off the dispatch path. If that write fails
   * the batch is given back (its items pending, the robot's calls for it refused as for a lapsed
   * lease).
   */
  async function answerWithBatch(reply: FastifyReply, leased: LeasedBatch, needs: string[]) {
    // The lease's span: a robot that sends it back on its results post joins the request's trace.
    if (leased.traceparent) reply.header('traceparent', leased.traceparent);
    if (!itemsFileCanFollowAnswer(ctx, leased)) return reply.status(200).send(await batchOut(ctx, await writeItemsFile(ctx, leased, needs)));
    const written = writeItemsFile(ctx, leased, needs, { afterAnswer: true }).catch((err) =>
      ctx.log.error({ err, batch_id: leased.id }, 'could not write the items file of a batch already answered (its lease is undone, or lapses if that failed too)'),
    );
    reply.status(200).send(await batchOut(ctx, leased));
    await written;
    return reply;
  }

  /**
   * Answers a repeated lease call with the batch its key names (docs/internals/0021-lost-lease-answers.md),
   * its URLs signed afresh. Its items file is written again if it is missing: the process that
   * leased it may have died before it wrote it.
   */
  async function answerAgain(reply: FastifyReply, batch: BatchRow, robot: RobotRow) {
    if (!(await blobExists(ctx.blobs, batch.items_key))) await ctx.blobs.put(batch.items_key, itemsFileLines(ctx.db, { batchId: batch.id, itemCount: batch.item_count, needs: robot.needs, protocol: robot.protocol }));
    return reply.status(200).send(await batchOut(ctx, batch));
  }

  /** Leases a new batch under `leaseKey`; a repeat of the call that raced it to the key gets that one's batch. */
  async function leaseUnderKey(robot: RobotRow, p: { limit: number; leaseMs: number; leaseKey: string | null }): Promise<LeasedBatch | BatchRow | null> {
    try {
      return await leaseNewBatch(ctx, robot, p);
    } catch (err) {
      if (!p.leaseKey || !isUniqueViolation(err, 'batches_lease_key')) throw err;
      return batchOfLeaseKey(ctx.db, { robotId: robot.id, key: p.leaseKey, now: ctx.clock.now() });
    }
  }

  app.post('/v1/batches/lease', {
    config: { access: 'robot' },
    schema: {
      tags: ['batches'],
      summary: 'Lease a batch: 200 with it, or 204 when nothing is pending (after waiting up to `wait`)',
      querystring: LeaseQuery,
      headers: LeaseHeaders,
      response: { 200: Batch, 204: { type: 'null', description: 'No work' } },
    },
    handler: async (request, reply) => {
      const robot = signingRobotOf(request);
      const q = request.query;
      const waitMs = q.wait === undefined ? 0 : parseDuration(q.wait)!;
      if (waitMs > maxLeaseWaitSeconds * 1000) throw errors.invalidRequest(`wait may be at most ${maxLeaseWaitSeconds} seconds`);
      if (robot.delivery.mode === 'push') throw errors.of('push_robot', `this robot's batches are pushed to its URL (${robot.delivery.url}); it does not lease them (docs/push.md)`);
      if (robot.protocol === 'destiny') throw errors.of('destiny_robot', "this robot speaks DESTINY's protocol: it polls POST /v1/robot-enhancement-batches/ (docs/destiny.md)");
      const leaseMs = leaseMsFrom(q.lease, robot.lease_ms);
      const limit = Math.min(q.limit ?? robot.max_batch_size, robot.max_batch_size);
      const leaseKey = (request.headers['idempotency-key'] as string | undefined) ?? null;
      if (leaseKey !== null) {
        const again = await batchOfLeaseKey(ctx.db, { robotId: robot.id, key: leaseKey, now: ctx.clock.now() });
        if (again) return answerAgain(reply, again, robot);
      }
      const closed = new AbortController();
      request.raw.once('close', () => closed.abort(connectionClosed));
      reply.raw.once('close', () => closed.abort(connectionClosed));
      const deadline = Date.now() + waitMs;
      polls.add(closed);
      try {
        for (;;) {
          const seen = ctx.work.wakeups(robot.id);
          if (robot.active) {
            const leased = await leaseUnderKey(robot, { limit, leaseMs, leaseKey });
            if (leased) return 'first_page' in leased ? answerWithBatch(reply, leased, robot.needs) : answerAgain(reply, leased, robot);
          }
          const remaining = deadline - Date.now();
          if (remaining <= 0 || closed.signal.aborted) return reply.status(204).send();
          // A request created in this process meanwhile may hand its items over in a batch already leased.
          const handed = await ctx.work.waitFor(robot.id, remaining, seen, closed.signal, { limit, leaseMs, needs: robot.needs, leaseKey });
          if (handed) return answerWithBatch(reply, handed, robot.needs);
        }
      } finally {
        polls.delete(closed);
      }
    },
  });

  app.get('/v1/batches/:id', {
    config: { access: 'robot' },
    schema: { tags: ['batches'], summary: 'A batch, its URLs signed afresh', params: IdParams, response: { 200: Batch } },
    handler: async (request) => batchOut(ctx, await ownBatch(request.params.id, robotOf(request))),
  });

  app.post('/v1/batches/:id/renew', {
    config: { access: 'robot' },
    schema: { tags: ['batches'], summary: 'Extend the lease; 409 once it has expired', params: IdParams, querystring: RenewQuery, response: { 200: RenewOut } },
    handler: async (request) => {
      const robot = signingRobotOf(request);
      const robotId = robot.id;
      const { id } = request.params;
      const batch = await ownBatch(id, robotId);
      const leaseMs = leaseMsFrom(request.query.lease, robot.lease_ms);
      const expiresAt = await renewBatchLeaseIfLeased(ctx.db, { id, robotId, leaseMs, now: ctx.clock.now() });
      if (!expiresAt) refusal({ ...batch, status: batch.status === 'leased' ? 'expired' : batch.status }, batch.lease_token);
      return { id, lease_expires_at: expiresAt };
    },
  });

  app.post('/v1/batches/:id/results', {
    config: { access: 'robot' },
    schema: {
      tags: ['batches'],
      summary: 'Hand in the batch after uploading the results file (or report a batch-wide error); 202. The same hand-in repeated with the lease token (its answer lost) is answered 202 again and changes nothing',
      params: IdParams,
      body: ResultsIn,
      response: { 202: ResultsAccepted },
    },
    handler: async (request, reply) => {
      const { id } = request.params;
      const body = request.body;
      const batch = await ownBatch(id, robotOf(request));
      if (body.error) {
        const status = await failLeasedBatch(ctx, batch, { leaseToken: body.lease_token, message: body.error.message, retryable: body.error.retryable ?? false, repeat: 'accept' });
        return reply.status(202).send({ id, status });
      }
      const status = await startResultsImport(ctx, batch, { leaseToken: body.lease_token, repeat: 'accept' });
      return reply.status(202).send({ id, status });
    },
  });
});
