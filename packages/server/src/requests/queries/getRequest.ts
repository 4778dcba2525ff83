import type { Queryable } from '../../db/index.ts';
import { requestColumns, type RequestRow } from './requestRow.ts';

export async function getRequest(db: Queryable, p: { id: string }): Promise<RequestRow | null> {
  const { rows } = await db.query<RequestRow>(`select ${requestColumns} from requests q where q.id = $1::uuid`, [p.id]);
  return rows[0] ?? null;
}

export async function getRequestByIdempotencyKey(db: Queryable, p: { requestedBy: string; key: string }): Promise<RequestRow | null> {
  const { rows } = await db.query<RequestRow>(`select ${requestColumns} from requests q where q.requested_by = $1::uuid and q.idempotency_key = $2::text`, [p.requestedBy, p.key]);
  return rows[0] ?? null;
}
