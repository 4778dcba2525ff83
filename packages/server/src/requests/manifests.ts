import { blobKeys } from '../blobs/store.ts';
import type { Context } from '../context.ts';
import { claimUnwrittenManifests, setManifestKey } from './queries/claimUnwrittenManifests.ts';
import { manifestLines } from './queries/manifestLines.ts';

/** How long a process may take to write one manifest before another may take it over. */
const manifestClaimMs = 5 * 60_000;

async function* jsonl(lines: AsyncIterable<unknown>): AsyncIterable<string> {
  for await (const line of lines) yield JSON.stringify(line) + '\n';
}

/**
 * Writes the manifests of finished requests that have none yet (of `requestIds`, or any).
 * Safe to call from many processes and again after a crash: each is claimed first, and
 * writing one twice gives the same file.
 */
export async function writePendingManifests(ctx: Context, requestIds?: readonly string[]): Promise<number> {
  const claimed = await claimUnwrittenManifests(ctx.db, { requestIds, now: ctx.clock.now(), claimMs: manifestClaimMs, limit: 100 });
  for (const requestId of claimed) {
    const key = blobKeys.manifest(requestId);
    await ctx.blobs.put(key, jsonl(manifestLines(ctx.db, { requestId })));
    await setManifestKey(ctx.db, { requestId, key });
  }
  return claimed.length;
}

/** After a transaction finished requests: write their manifests now, without holding the caller up. */
export function afterRequestsFinished(ctx: Context, finished: ReadonlyArray<{ id: string; status: string }>): void {
  if (finished.length === 0) return;
  for (const f of finished) ctx.log.info({ request_id: f.id, status: f.status }, 'request finished');
  const requestIds = finished.map((f) => f.id);
  void ctx.background.run('writing manifests', { request_ids: requestIds }, () => writePendingManifests(ctx, requestIds));
}
