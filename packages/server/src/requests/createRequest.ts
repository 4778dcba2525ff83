import { createHash } from 'node:crypto';
import { canonicalJson } from '@refinery/protocol';
import { claimWaitingPoll, type LeasedBatch, traceLease } from '../batches/index.ts';
import type { Context } from '../context.ts';
import { flushWal, isBulk, isUniqueViolation, type Queryable, tuneForRows } from '../db/index.ts';
import { errors } from '../errors.ts';
import { checkRobotTakesRequests, createdRequest, sameRequest, termsOf } from './createTerms.ts';
import { newId } from '../ids.ts';
import { writeBacklog } from './backlog.ts';
import { finishRequestsIfDone } from './queries/finishRequestsIfDone.ts';
import { getRequestByIdempotencyKey } from './queries/getRequest.ts';
import { getRetryOf } from './queries/getRetryOf.ts';
import { analyzeItems } from './queries/analyzeItems.ts';
import { insertRequestFirstSliceIfNew } from './queries/insertRequestFirstSliceIfNew.ts';
import { insertRequestIfNew } from './queries/insertRequestIfNew.ts';
import { insertRequestLeasingToPollIfNew } from './queries/insertRequestLeasingToPollIfNew.ts';
import type { NewRequest } from './queries/newRequest.ts';
import type { RequestRow } from './queries/requestRow.ts';
import type { RequestBody } from './requestBody.ts';
import { setRequestTraceParent } from './queries/setRequestTraceParent.ts';
import { trace, traceparentOf, tracing } from '../ops/index.ts';

/**
 * Accepts a request: the request row, all its items and the robot's wake-up in one statement
 * (delivered at commit). Returns the request and whether it was new.
 * A request that is not bulk (db/tuning.ts) is that statement alone, committed on its own:
 * no BEGIN and COMMIT round trips between the requester and the robot's lease (dispatch latency);
 * when a long poll of the robot waits in this process, the same statement leases it a batch of
 * the new items, handed to it at commit, before the commit is flushed to disk; the request is
 * answered once it is (docs/dispatch.md).
 * If all its items are final at once (denied, expired), finishing it is a second statement; a
 * process that dies between the two leaves it to the orphaned-requests service (maintenance/orphanedRequests.ts).
 * A request of more than `createSlice` ids commits its first slice of items and leaves the rest in
 * its backlog, which this process then writes while the robot works (docs/large-requests.md).
 * With `retryOf` the request retries that one (retryRequest.ts): as with an idempotency key, a
 * second retry inserts nothing and the first is returned (or 409 when it was asked differently).
 */
export async function createRequest(
  ctx: Pick<Context, 'background' | 'blobs' | 'clock' | 'config' | 'db' | 'log' | 'metrics' | 'work'>,
  input: { body: RequestBody; requestedBy: string; idempotencyKey: string | null; retryOf?: string },
): Promise<{ request: RequestRow; created: boolean }> {
  const { body } = input;
  const now = ctx.clock.now();
  const startTime = tracing() ? Date.now() : 0;
  const terms = termsOf(body, now);
  const bodyHash = createHash('sha256').update(canonicalJson({ ...body, record_ids: body.record_ids.digest() })).digest('hex');
  const id = newId();
  const large = isBulk(body.record_ids.length);
  const sliced = body.record_ids.length > ctx.config.createSlice;
  const handoff = large || sliced ? null : claimWaitingPoll(ctx, body.robot_id);
  const request: NewRequest = {
    id,
    robotId: body.robot_id,
    requestedBy: input.requestedBy,
    ...terms,
    idempotencyKey: input.idempotencyKey,
    bodyHash,
    retryOf: input.retryOf,
    recordIds: body.record_ids,
    now,
  };
  const insert = async (db: Queryable) => {
    await tuneForRows(db, body.record_ids.length);
    const inserted = sliced
      ? { ...(await insertRequestFirstSliceIfNew(db, { ...request, slice: ctx.config.createSlice })), batch: null }
      : handoff
        ? await insertRequestLeasingToPollIfNew(db, { ...request, handoff: handoff.lease })
        : { ...(await insertRequestIfNew(db, request)), batch: null };
    checkRobotTakesRequests(inserted.robot, body.robot_id);
    // A duplicate key waited on the unique index until the first transaction ended (ON CONFLICT
    // waits for an uncommitted conflicting row); this statement's snapshot sees what it committed.
    if (!inserted.request) {
      const existing = input.retryOf
        ? await getRetryOf(db, { requestId: input.retryOf })
        : await getRequestByIdempotencyKey(db, { requestedBy: input.requestedBy, key: input.idempotencyKey! });
      return { existing };
    }
    if (large) await analyzeItems(db);
    // Every item denied or expired at once: the request is final already.
    const finished = inserted.pending === 0 && !inserted.batch ? await finishRequestsIfDone(db, { requestIds: [id], now }) : [];
    return { created: inserted.request, finished, pending: inserted.pending, batch: inserted.batch, backlog: inserted.backlog };
  };
  let outcome: Awaited<ReturnType<typeof insert>> | null;
  let handed: LeasedBatch | null = null;
  try {
    outcome = large ? await ctx.db.transaction(insert) : await insert(ctx.db);
    if ('batch' in outcome) handed = outcome.batch ?? null;
    if (handed && tracing()) await traceLease(ctx, handed, startTime, false);
  } catch (err) {
    // The waiting poll's idempotency key named a batch already, leased by a repeat of its call
    // meanwhile (docs/internals/0021-lost-lease-answers.md): nothing was written; create again.
    if (!(handoff?.lease.leaseKey && isUniqueViolation(err, 'batches_lease_key'))) throw err;
    outcome = null;
  } finally {
    await handoff?.finish(handed);
  }
  if (!outcome) return createRequest(ctx, input);
  // The statement committed without waiting for its WAL flush, so that the robot had its batch
  // sooner: a crash now would lose the request, which is why the requester hears of it only after
  // the flush. The robot's batch would then be unknown to its later calls (404), as a lease lost
  // in a crash (leaseItems).
  if (handoff) await flushWal(ctx.db);
  if ('existing' in outcome) {
    const { existing } = outcome;
    // Only if the original was deleted between the two statements: ask again, it inserts this time.
    if (!existing) return createRequest(ctx, input);
    if (input.retryOf && existing.body_hash !== bodyHash) throw errors.alreadyRetried(input.retryOf, existing.id);
    return sameRequest(existing, bodyHash);
  }
  ctx.metrics.requestsCreated.inc();
  const traceparent = tracing() && trace.getActiveSpan() ? traceparentOf(trace.getActiveSpan()!) : undefined;
  if (traceparent) await setRequestTraceParent(ctx.db, { requestId: id, traceparent });
  if (handed) ctx.metrics.leased(body.robot_id, handed.item_count);
  // Committed: this process's long polls for the robot look at once, not when the NOTIFY comes back.
  if (outcome.pending > 0) ctx.work.wakeHere(body.robot_id);
  if (outcome.backlog) ctx.background.run('backlog', { request_id: id }, () => writeBacklog(ctx));
  return createdRequest(ctx, outcome.created, outcome.finished);
}
