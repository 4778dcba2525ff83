import type { Queryable } from '../../db/index.ts';
import { requestIsOpen } from '../open.ts';

/**
 * Locks the backlog rows of the given requests (or of the open ones whose deadline has passed at
 * `overdueAt`), waiting for a writer that holds one; returns the requests that have a backlog. The
 * cancel and the deadline take these locks before they move any item, so that their later
 * writeBacklogSlices keeps its lock order: backlog rows, items, request rows.
 */
export async function lockBacklogs(db: Queryable, p: { requestIds: readonly string[] } | { overdueAt: Date }): Promise<string[]> {
  const { rows } = await db.query<{ request_id: string }>(
    'requestIds' in p
      ? `select request_id::text from item_backlog where request_id = any($1::uuid[]) for update`
      : `select request_id::text from item_backlog
where request_id in (select id from requests where ${requestIsOpen()} and expires_at <= $1::timestamptz)
for update`,
    ['requestIds' in p ? p.requestIds : p.overdueAt.toISOString()],
  );
  return [...new Set(rows.map((r) => r.request_id))];
}
