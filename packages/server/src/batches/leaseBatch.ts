import { blobKeys } from '../blobs/index.ts';
import type { Context } from '../context.ts';
import { newId, newLeaseToken } from '../ids.ts';
import { openItemsText } from '../records/index.ts';
import type { RobotProtocol, RobotRow } from '../robots/index.ts';
import { itemsFileLines, itemsPageSize } from './queries/itemsFileLines.ts';
import { leaseItems, type LeasedBatch } from './queries/leaseItems.ts';
import { releaseBatch } from './queries/releaseBatch.ts';
import type { BatchRow } from './queries/batchRow.ts';
import { traceParentsOfBatch } from './queries/traceParentsOfBatch.ts';
import { context, contextOf, trace, traceparentOf, tracer, tracing } from '../ops/index.ts';

/** What a new batch is known by before it is leased: its id, its lease token and its files' blob keys. */
export function newBatchKeys(): { batchId: string; leaseToken: string; itemsKey: string; resultsKey: string } {
  const batchId = newId();
  return { batchId, leaseToken: newLeaseToken(), itemsKey: blobKeys.items(batchId), resultsKey: blobKeys.results(batchId) };
}

/** Leases a batch, its items file not written yet (writeItemsFile); null when nothing is pending. `leaseKey`: the lease call's idempotency key (batchOfLeaseKey). */
export async function leaseNewBatch(ctx: Pick<Context, 'clock' | 'db' | 'metrics'>, robot: RobotRow, p: { limit: number; leaseMs: number; leaseKey?: string | null }): Promise<LeasedBatch | null> {
  const startTime = tracing() ? Date.now() : 0;
  const leased = await leaseItems(ctx.db, {
    ...newBatchKeys(),
    robotId: robot.id,
    limit: p.limit,
    leaseMs: p.leaseMs,
    needs: robot.needs,
    protocol: robot.protocol,
    now: ctx.clock.now(),
    leaseKey: p.leaseKey,
  });
  if (leased) ctx.metrics.leased(robot.id, leased.item_count);
  if (leased && tracing()) await traceLease(ctx, leased, startTime);
  return leased;
}

/** Requests whose create spans a lease span names: the first as its parent, the rest as links. */
const tracedRequestsPerLease = 16;

/**
 * The span of a lease, made once it is done (from `startTime`): a child of the create span of
 * the batch's oldest request, linked to the others' and to the span that leased (the robot's HTTP
 * call, a push pass, a create that handed it to a poll), so that each request's trace shows its
 * work. `stored` false: the parent is the current span (a create that leased in its statement).
 * The batch carries its traceparent to the robot.
 */
export async function traceLease(ctx: Pick<Context, 'db'>, batch: BatchRow, startTime: number, stored = true): Promise<void> {
  const requests = stored ? (await traceParentsOfBatch(ctx.db, { batchId: batch.id, limit: tracedRequestsPerLease })).flatMap((tp) => trace.getSpanContext(contextOf({ traceparent: tp })) ?? []) : [];
  const current = trace.getSpanContext(context.active());
  const [first, ...others] = requests;
  const span = tracer.startSpan(
    'refinery.lease',
    {
      startTime,
      attributes: { 'refinery.robot_id': batch.robot_id, 'refinery.batch_id': batch.id, 'refinery.item_count': batch.item_count },
      links: [...others, ...(first && current ? [current] : [])].map((context) => ({ context })),
    },
    first ? trace.setSpanContext(context.active(), first) : context.active(),
  );
  batch.traceparent = traceparentOf(span);
  span.end();
}

/** Leases a batch and streams its items file to blob storage; null when nothing is pending. */
export async function leaseBatch(ctx: Context, robot: RobotRow, p: { limit: number; leaseMs: number }): Promise<BatchRow | null> {
  const leased = await leaseNewBatch(ctx, robot, p);
  return leased && writeItemsFile(ctx, leased, robot.needs, { protocol: robot.protocol });
}

/** A batch whose items file is the lease's first page alone: written whole, as a string. */
const itemsFileIsOnePage = (batch: { item_count: number }) => batch.item_count <= itemsPageSize;

/**
 * Whether a new batch's items file may be written just after the batch is answered: it is one
 * page, made already, and the store holds any read of it until it is written (BlobStore.writesSoon).
 */
export function itemsFileCanFollowAnswer(ctx: Pick<Context, 'blobs'>, leased: LeasedBatch): boolean {
  return ctx.blobs.writesSoon && itemsFileIsOnePage(leased);
}

/**
 * Streams a new batch's items file to blob storage, in the format of `protocol` (the robot's;
 * Refinery's by default): the first page came with the lease, the rest is read page by page. If
 * the file cannot be written the lease is undone, so the items are not stuck until it lapses, and
 * the robot's polls in this process are woken for them.
 */
export async function writeItemsFile(ctx: Pick<Context, 'blobs' | 'clock' | 'db' | 'keys' | 'work'>, leased: LeasedBatch, needs: string[], options: { afterAnswer?: boolean; protocol?: RobotProtocol } = {}): Promise<BatchRow> {
  const { first_page: stored_first_page, first_page_last, ...batch } = leased;
  // Sealed record content is opened for the robot (the items file is sealed as a whole on disk).
  const first_page = openItemsText(ctx.keys, stored_first_page);
  async function* lines() {
    yield first_page;
    for await (const page of itemsFileLines(ctx.db, { batchId: batch.id, itemCount: batch.item_count - itemsPageSize, needs, protocol: options.protocol, after: first_page_last })) {
      yield openItemsText(ctx.keys, page);
    }
  }
  try {
    // A batch of one page is written whole, without a turn of the event loop in between (dispatch
    // latency), or once the answer naming it has gone (`afterAnswer`: itemsFileCanFollowAnswer).
    await ctx.blobs.put(batch.items_key, itemsFileIsOnePage(batch) ? first_page : lines(), { soon: options.afterAnswer });
  } catch (err) {
    await releaseBatch(ctx.db, { id: batch.id, reason: 'the items file could not be written', now: ctx.clock.now() });
    ctx.work.wakeHere(batch.robot_id);
    throw err;
  }
  return batch;
}
