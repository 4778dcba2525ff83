import type { Queryable } from '../../db/index.ts';
import { requestColumns, type RequestRow } from './requestRow.ts';

/** The request that retries `requestId` (there is at most one), or null. */
export async function getRetryOf(db: Queryable, p: { requestId: string }): Promise<RequestRow | null> {
  const { rows } = await db.query<RequestRow>(`select ${requestColumns} from requests q where q.retry_of = $1::uuid`, [p.requestId]);
  return rows[0] ?? null;
}
