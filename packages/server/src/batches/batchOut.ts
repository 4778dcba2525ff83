import { signedUrlSeconds } from '../blobs/index.ts';
import type { Context } from '../context.ts';
import type { BatchRow } from './queries/batchRow.ts';

/** A batch as robots see it (lease answer, push delivery, GET): URLs signed for the lease and some. */
export async function batchOut(ctx: Pick<Context, 'blobs' | 'clock'>, batch: BatchRow) {
  const urlSeconds = Math.max(signedUrlSeconds, Math.ceil((batch.lease_expires_at.getTime() - ctx.clock.now().getTime()) / 1000) + 300);
  return {
    id: batch.id,
    status: batch.status,
    lease_token: batch.lease_token,
    lease_expires_at: batch.lease_expires_at,
    attempt: batch.attempt,
    item_count: batch.item_count,
    items_url: await ctx.blobs.signedUrl(batch.items_key, 'GET', urlSeconds),
    results_url: await ctx.blobs.signedUrl(batch.results_key, 'PUT', urlSeconds),
    report_url: batch.report_key && !batch.files_deleted_at ? await ctx.blobs.signedUrl(batch.report_key, 'GET', signedUrlSeconds) : null,
  };
}
