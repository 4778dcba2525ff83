import { blobKeys } from '../blobs/index.ts';
import type { Context } from '../context.ts';
import { claimUnwrittenManifests, setManifestKeys } from './queries/claimUnwrittenManifests.ts';
import { manifestLines, type ManifestRow } from './queries/manifestLines.ts';

/** How long a process may take to write one manifest before another may take it over. */
const manifestClaimMs = 5 * 60_000;

/**
 * Writes the manifests of finished requests that have none yet (of `requestIds`, or any).
 * Safe to call from many processes and again after a crash: each is claimed first, and
 * writing one twice gives the same file. The claimed requests' lines are read together, a page
 * across them at a time, and their keys recorded in one statement: a request of a hundred items
 * costs a file, not three statements.
 */
export async function writePendingManifests(ctx: Pick<Context, 'blobs' | 'clock' | 'db'>, requestIds?: readonly string[], options: { pageSize?: number } = {}): Promise<number> {
  const claimed = await claimUnwrittenManifests(ctx.db, { requestIds, now: ctx.clock.now(), claimMs: manifestClaimMs, limit: 100 });
  if (claimed.length === 0) return 0;
  // In the order manifestLines reads them: a uuid's lowercase text sorts as its bytes do.
  const ids = [...claimed].sort();
  const pages = manifestLines(ctx.db, { requestIds: ids, pageSize: options.pageSize })[Symbol.asyncIterator]();
  let page: ManifestRow[] = [];
  let at = 0;
  let readAll = false;
  /** The lines of `requestId`, from where the previous request's ended; a request with no items has none. */
  async function* linesOf(requestId: string): AsyncIterable<string> {
    for (;;) {
      if (at === page.length) {
        if (readAll) return;
        const next = await pages.next();
        if (next.done) {
          readAll = true;
          return;
        }
        page = next.value;
        at = 0;
      }
      // Lines of an earlier request a store left unread are not this one's.
      while (at < page.length && page[at].request_id < requestId) at++;
      let text = '';
      while (at < page.length && page[at].request_id === requestId) text += JSON.stringify(page[at++].line) + '\n';
      if (text) yield text;
      if (at < page.length) return;
    }
  }
  const written: Array<{ requestId: string; key: string }> = [];
  try {
    for (const requestId of ids) {
      const key = blobKeys.manifest(requestId);
      await ctx.blobs.put(key, linesOf(requestId));
      written.push({ requestId, key });
    }
  } finally {
    await setManifestKeys(ctx.db, { written });
  }
  return claimed.length;
}

/** After a transaction finished requests: count them, and write their manifests now, without holding the caller up. */
export function afterRequestsFinished(ctx: Pick<Context, 'background' | 'blobs' | 'clock' | 'db' | 'log' | 'metrics'>, finished: ReadonlyArray<{ id: string; status: string }>): void {
  if (finished.length === 0) return;
  for (const f of finished) {
    ctx.log.info({ request_id: f.id, status: f.status }, 'request finished');
    ctx.metrics.requestsFinished.inc({ status: f.status });
  }
  const requestIds = finished.map((f) => f.id);
  void ctx.background.run('writing manifests', { request_ids: requestIds }, () => writePendingManifests(ctx, requestIds));
}
