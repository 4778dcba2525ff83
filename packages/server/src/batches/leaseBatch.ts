import { randomBytes } from 'node:crypto';
import { blobKeys } from '../blobs/store.ts';
import type { Context } from '../context.ts';
import { newId } from '../ids.ts';
import type { RobotRow } from '../robots/queries/robotRow.ts';
import { itemsFileLines, itemsPageSize } from './queries/itemsFileLines.ts';
import { leaseItems } from './queries/leaseItems.ts';
import { releaseBatch } from './queries/releaseBatch.ts';
import type { BatchRow } from './queries/batchRow.ts';

/**
 * Leases a batch and streams its items file to blob storage; null when nothing is pending.
 * If the file cannot be written the lease is undone, so the items are not stuck until it lapses.
 */
export async function leaseBatch(ctx: Context, robot: RobotRow, p: { limit: number; leaseMs: number }): Promise<BatchRow | null> {
  const batchId = newId();
  const leased = await leaseItems(ctx.db, {
    robotId: robot.id,
    limit: p.limit,
    batchId,
    leaseToken: randomBytes(24).toString('base64url'),
    leaseMs: p.leaseMs,
    itemsKey: blobKeys.items(batchId),
    resultsKey: blobKeys.results(batchId),
    needs: robot.needs,
    now: ctx.clock.now(),
  });
  if (!leased) return null;
  const { first_page, first_page_last, ...batch } = leased;
  async function* lines() {
    yield first_page;
    const rest = batch.item_count - itemsPageSize;
    if (rest > 0) yield* itemsFileLines(ctx.db, { batchId, itemCount: rest, needs: robot.needs, after: first_page_last });
  }
  try {
    await ctx.blobs.put(batch.items_key, lines());
  } catch (err) {
    await releaseBatch(ctx.db, { id: batchId, now: ctx.clock.now() });
    throw err;
  }
  return batch;
}
