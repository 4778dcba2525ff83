import type { Queryable } from '../db/index.ts';
import { errors } from '../errors.ts';
import type { BatchRow } from './queries/batchRow.ts';
import { countBatchItemsByFate } from './queries/countBatchItemsByFate.ts';

/**
 * Results for a batch whose lease holds but whose items were all cancelled or expired with their
 * requests: 409 `request_cancelled` / `request_expired`, nothing imported. A batch that still has
 * open items imports those (other requests' items in a mixed batch are not held back).
 */
export async function refuseIfItemsClosed(db: Queryable, batch: BatchRow, leaseToken: string, now: Date): Promise<void> {
  if (batch.status !== 'leased' || batch.lease_token !== leaseToken || batch.lease_expires_at <= now) return;
  const fate = await countBatchItemsByFate(db, { batchId: batch.id, now });
  if (fate.open > 0) return;
  if (fate.cancelled === 0) {
    throw errors.of('request_expired', "every item of this batch expired with its request's deadline; nothing was imported");
  }
  const expired = fate.expired > 0 ? `, ${fate.expired} expired with their request's deadline` : '';
  throw errors.of('request_cancelled', `every item of this batch was closed (${fate.cancelled} cancelled with their request${expired}); nothing was imported`);
}
