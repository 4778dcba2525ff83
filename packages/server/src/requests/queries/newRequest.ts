import type { RecordIdList } from '../requestBody.ts';
import type { RequestRow } from './requestRow.ts';

/**
 * A request to insert with its items, as the three create statements take it
 * (insertRequestIfNew, insertRequestFirstSliceIfNew, insertRequestLeasingToPollIfNew). Each
 * statement inserts it only if it is new: its robot exists and takes requests, its idempotency key
 * was not used, and the request it retries (if any) was not retried already. The insert's
 * ON CONFLICT settles a race between two such calls (docs/internals/0001-one-statement-create.md).
 */
export interface NewRequest {
  id: string;
  robotId: string;
  requestedBy: string;
  priority: number;
  expiresAt: string | null;
  callbackUrl: string | null;
  idempotencyKey: string | null;
  bodyHash: string;
  /** The request this one retries (POST /v1/requests/{id}/retry), if it is a retry. */
  retryOf?: string | null;
  recordIds: RecordIdList;
  now: Date;
}

/** What a create statement did. */
export interface RequestInsert {
  /** The robot's name and whether it takes requests; null when no robot has that id. */
  robot: { name: string; active: boolean } | null;
  /** The request as inserted, with its items counted; null when nothing was inserted (not new). */
  request: RequestRow | null;
  /** Items created `pending`; the robot was woken (at commit) when there are any. */
  pending: number;
  /** Whether the request was inserted with some of its items left in its backlog. */
  backlog: boolean;
}

/** The parameters $1 to $11, the same in every create statement. */
export const newRequestParams = (p: NewRequest): unknown[] => [
  p.id,
  p.recordIds.packed,
  p.robotId,
  p.priority,
  p.now.toISOString(),
  p.requestedBy,
  p.expiresAt,
  p.callbackUrl,
  p.idempotencyKey,
  p.bodyHash,
  p.retryOf ?? null,
];

/** A create statement's row: the robot's, its pending count and, if one was inserted, the request's columns (id null if not). */
export type NewRequestRow = RequestRow & { name: string; active: boolean; pending: number; woken: unknown };

/** The RequestInsert of a create statement's row (none when the robot is unknown). */
export function requestInsertOf(row: NewRequestRow | undefined, backlog: (request: RequestRow) => boolean = () => false): RequestInsert {
  if (!row) return { robot: null, request: null, pending: 0, backlog: false };
  const { name, active, pending, woken: _woken, ...request } = row;
  const inserted = request.id === null ? null : request;
  return { robot: { name, active }, request: inserted, pending, backlog: inserted !== null && backlog(inserted) };
}
